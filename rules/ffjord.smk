# Stage 2b: FFJORD's smaller experiments and their figures (FFJORD Figures 2 and 5, and the
# Hutchinson-vs-exact trace cost that motivates FFJORD). Figures read result files only.
import json

from replication.workflow import (
    ffjord_figure_fingerprint,
    nfe_vs_dim_fingerprint,
    toy_density_fingerprint,
    trace_cost_fingerprint,
)

NFE_VS_DIM = config["scales"][SCALE]["nfe_vs_dim"]
TOY_DENSITY = config["scales"][SCALE]["toy_density"]
TRACE_COST = config["scales"][SCALE]["trace_cost"]
FFJORD_RESULTS = f"{RESULTS}/ffjord"
FFJORD_FIGURES = f"figures/{SCALE}"


def _job_spec(section: dict, **fields) -> str:
    """A job's specification: the scale's section without its scheduling keys, plus *fields*."""
    spec = {k: v for k, v in section.items() if k not in ("threads", "latent_dims", "datasets")}
    return json.dumps({**spec, "scale": SCALE, **fields}, sort_keys=True)


def _gpu(section: dict) -> int:
    return 1 if section["device"] == "cuda" else 0


wildcard_constraints:
    latent_dim="[0-9]+",
    toy="[a-z0-9]+",


rule ffjord_nfe:
    """FFJORD Figure 5: train one FFJORD VAE of latent size D on MNIST, counting NFE per batch."""
    input:
        lambda w: dataset_files(NFE_VS_DIM["dataset"]),
    output:
        history=f"{FFJORD_RESULTS}/nfe_vs_dim/d{{latent_dim}}/history.csv",
        batches=f"{FFJORD_RESULTS}/nfe_vs_dim/d{{latent_dim}}/batches.csv",
        metrics=f"{FFJORD_RESULTS}/nfe_vs_dim/d{{latent_dim}}/metrics.json",
        provenance=f"{FFJORD_RESULTS}/nfe_vs_dim/d{{latent_dim}}/provenance.json",
    params:
        spec=lambda w: _job_spec(NFE_VS_DIM, latent_dim=int(w.latent_dim)),
        code=nfe_vs_dim_fingerprint(),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: NFE_VS_DIM["threads"]
    resources:
        gpu=_gpu(NFE_VS_DIM),
    log:
        f"{LOGS}/ffjord/nfe_vs_dim-d{{latent_dim}}.log",
    shell:
        "python -m replication ffjord-nfe --spec {params.spec:q} --out {params.out:q}"
        " --data-dir {DATA:q} --checkpoint-dir {CHECKPOINTS:q}/nfe_vs_dim"
        " --threads {threads} > {log:q} 2>&1"


rule nfe_vs_dim_table:
    input:
        [f"{FFJORD_RESULTS}/nfe_vs_dim/d{d}/history.csv" for d in NFE_VS_DIM["latent_dims"]],
    output:
        f"{FFJORD_RESULTS}/nfe_vs_dim.csv",
    params:
        code=nfe_vs_dim_fingerprint(),
    log:
        f"{LOGS}/ffjord/nfe_vs_dim_table.log",
    shell:
        "python -m replication nfe-vs-dim-table {input:q} --out {output:q} > {log:q} 2>&1"


rule nfe_vs_dim_figure:
    input:
        rules.nfe_vs_dim_table.output,
    output:
        multiext(f"{FFJORD_FIGURES}/ffjord_nfe_vs_dim", ".png", ".pdf", ".csv", "_summary.csv"),
    params:
        code=ffjord_figure_fingerprint("nfe_vs_dim"),
        prefix=f"{FFJORD_FIGURES}/ffjord_nfe_vs_dim",
    log:
        f"{LOGS}/figures/ffjord_nfe_vs_dim.log",
    shell:
        "python -m replication nfe-vs-dim-figure {input:q} --prefix {params.prefix:q}"
        " > {log:q} 2>&1"


rule toy_density:
    """FFJORD Figure 2: fit an exact-trace CNF to one 2-D toy distribution."""
    output:
        metrics=f"{FFJORD_RESULTS}/toy/{{toy}}/metrics.json",
        density=f"{FFJORD_RESULTS}/toy/{{toy}}/density.csv",
        data=f"{FFJORD_RESULTS}/toy/{{toy}}/data.csv",
        history=f"{FFJORD_RESULTS}/toy/{{toy}}/history.csv",
        provenance=f"{FFJORD_RESULTS}/toy/{{toy}}/provenance.json",
    params:
        spec=lambda w: _job_spec(TOY_DENSITY, dataset=w.toy),
        code=toy_density_fingerprint(),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: TOY_DENSITY["threads"]
    resources:
        gpu=_gpu(TOY_DENSITY),
    log:
        f"{LOGS}/ffjord/toy-{{toy}}.log",
    shell:
        "python -m replication toy-density --spec {params.spec:q} --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule toy_density_figure:
    input:
        [f"{FFJORD_RESULTS}/toy/{name}/metrics.json" for name in TOY_DENSITY["datasets"]],
    output:
        multiext(f"{FFJORD_FIGURES}/ffjord_toy_densities", ".png", ".pdf", ".csv", "_density.csv"),
    params:
        code=ffjord_figure_fingerprint("toy_density"),
        prefix=f"{FFJORD_FIGURES}/ffjord_toy_densities",
        runs=[f"{FFJORD_RESULTS}/toy/{name}" for name in TOY_DENSITY["datasets"]],
    log:
        f"{LOGS}/figures/ffjord_toy_densities.log",
    shell:
        "python -m replication toy-figure {params.runs:q} --prefix {params.prefix:q}"
        " > {log:q} 2>&1"


rule trace_cost:
    """Hutchinson vs exact trace: seconds per function evaluation and variance against D."""
    output:
        points=f"{FFJORD_RESULTS}/trace_cost/points.csv",
        metrics=f"{FFJORD_RESULTS}/trace_cost/metrics.json",
        provenance=f"{FFJORD_RESULTS}/trace_cost/provenance.json",
    params:
        spec=_job_spec(TRACE_COST),
        code=trace_cost_fingerprint(),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: TRACE_COST["threads"]
    resources:
        gpu=_gpu(TRACE_COST),
    log:
        f"{LOGS}/ffjord/trace_cost.log",
    shell:
        "python -m replication trace-cost --spec {params.spec:q} --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule trace_cost_figure:
    input:
        rules.trace_cost.output.points,
    output:
        multiext(f"{FFJORD_FIGURES}/ffjord_trace_cost", ".png", ".pdf", ".csv", "_fits.csv"),
    params:
        code=ffjord_figure_fingerprint("trace_cost"),
        prefix=f"{FFJORD_FIGURES}/ffjord_trace_cost",
    log:
        f"{LOGS}/figures/ffjord_trace_cost.log",
    shell:
        "python -m replication trace-figure {input:q} --prefix {params.prefix:q}"
        " > {log:q} 2>&1"


rule ffjord_figures:
    """`snakemake ffjord_figures`: FFJORD Figures 2 and 5 and the trace-cost figure."""
    input:
        rules.nfe_vs_dim_figure.output,
        rules.toy_density_figure.output,
        rules.trace_cost_figure.output,
