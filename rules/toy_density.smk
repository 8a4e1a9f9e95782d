# FFJORD Figure 2: an exact-trace CNF fitted to each 2-D toy distribution, then the figure.
TOY_DENSITY = experiment("toy_density")
TOY_DENSITY_SETTINGS = settings(TOY_DENSITY.section)


wildcard_constraints:
    toy="[a-z0-9]+",


rule toy_density:
    """Fit one CNF to one toy distribution; its density on a grid and the grid's mass."""
    output:
        **job_outputs(
            TOY_DENSITY,
            "ffjord/toy/{toy}",
            "density.csv",
            "data.csv",
            "samples.csv",
            "history.csv",
        ),
    log:
        f"{LOGS}/ffjord/toy-{{toy}}.log",
    conda:
        CONDA_ENV
    threads: TOY_DENSITY_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("toy_density"),
        gpu=gpus(TOY_DENSITY_SETTINGS["device"]),
    params:
        **job_params(TOY_DENSITY, "ffjord/toy/{toy}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule toy_density_figure:
    input:
        figure_inputs(TOY_DENSITY),
    output:
        figure_outputs(TOY_DENSITY),
    log:
        f"{LOGS}/figures/ffjord_toy_densities.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("toy_density_figure"),
    params:
        experiment=TOY_DENSITY.name,
        code=TOY_DENSITY.fingerprint_of(TOY_DENSITY.figure),
        scale=SCALE,
    shell:
        "python -m replication figure {params.experiment:q} {input:q} --scale {params.scale:q}"
        " > {log:q} 2>&1"
