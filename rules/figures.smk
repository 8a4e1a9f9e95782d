# Stage 4: figures, from result tables only (a plotting change reruns only these rules).
from replication.workflow import figure3_fingerprint, memory_figure_fingerprint

FIGURES = f"figures/{SCALE}"


rule figure3:
    input:
        sweep=rules.tolerance_sweep.output.sweep,
        batches=f"{ODENET_RUN}/batches.csv",
    output:
        multiext(f"{FIGURES}/figure3", ".png", ".pdf", "a.csv", "b.csv", "c.csv", "d.csv"),
    params:
        code=figure3_fingerprint(),
        prefix=f"{FIGURES}/figure3",
    log:
        f"{LOGS}/figures/figure3.log",
    shell:
        "python -m replication figure3 --sweep {input.sweep:q} --batches {input.batches:q}"
        " --prefix {params.prefix:q} > {log:q} 2>&1"


rule memory_figure:
    input:
        rules.memory_depth.output.points,
    output:
        multiext(f"{FIGURES}/memory_depth", ".png", ".pdf", ".csv", "_fits.csv"),
    params:
        code=memory_figure_fingerprint(),
        prefix=f"{FIGURES}/memory_depth",
    log:
        f"{LOGS}/figures/memory_depth.log",
    shell:
        "python -m replication memory-figure {input:q} --prefix {params.prefix:q} > {log:q} 2>&1"
