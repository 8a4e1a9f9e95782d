# The seed article's own experiments (spec §4.1, claims A1–A4), as jobs like any other.
ARTICLE = experiment("article")
ARTICLE_SETTINGS = settings(ARTICLE.section)
ARTICLE_JOBS = jobs_by_path(ARTICLE)


wildcard_constraints:
    readout="[A-Za-z_]+",


rule article_a1:
    """A1: the article's NumPy Euler-and-adjoint network, batch size 1, one epoch."""
    input:
        dataset_files("mnist"),
    output:
        **job_outputs(ARTICLE, "article/a1/seed{seed}", "history.csv", "params.npz"),
    log:
        f"{LOGS}/article/a1-seed{{seed}}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("article_a1"),
    params:
        **job_params(ARTICLE, "article/a1/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule article_a2:
    """A2: A1's trained network at other step counts n and step sizes dt, no retraining."""
    input:
        dataset_files("mnist"),
        params=f"{RESULTS}/article/a1/seed{{seed}}/params.npz",
    output:
        **job_outputs(ARTICLE, "article/a2/seed{seed}", "rows.csv"),
    log:
        f"{LOGS}/article/a2-seed{{seed}}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("article_a2"),
    params:
        **job_params(ARTICLE, "article/a2/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule article_a3:
    """A3: the article's "CNF" classifier snippet."""
    input:
        dataset_files("mnist"),
    output:
        **job_outputs(ARTICLE, "article/a3/seed{seed}", "batches.csv"),
    log:
        f"{LOGS}/article/a3-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: ARTICLE_SETTINGS["a3"]["threads"]
    resources:
        mem_mb=mem_mb("article_a3"),
        gpu=gpus(ARTICLE_SETTINGS["a3"]["device"]),
    params:
        **job_params(ARTICLE, "article/a3/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule article_a4:
    """A4: the article's "FFJORD" classifier snippet, per readout (as written / z(T))."""
    input:
        dataset_files("mnist"),
    output:
        **job_outputs(ARTICLE, "article/a4/{readout}/seed{seed}", "batches.csv"),
    log:
        f"{LOGS}/article/a4-{{readout}}-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: ARTICLE_SETTINGS["a4"]["threads"]
    resources:
        mem_mb=mem_mb("article_a4"),
        gpu=gpus(ARTICLE_SETTINGS["a4"]["device"]),
    params:
        **job_params(ARTICLE, "article/a4/{readout}/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule article:
    """`snakemake article`: every article job of this scale."""
    input:
        [f"{path}/metrics.json" for path in ARTICLE_JOBS],
