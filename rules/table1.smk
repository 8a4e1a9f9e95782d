# Neural ODE Table 1: one MNIST classifier per (model, seed), then the table.
TABLE1 = experiment("table1")
TABLE1_SETTINGS = settings(TABLE1.section)


wildcard_constraints:
    model="[a-z0-9]+",
    seed="[0-9]+",


rule train_classifier:
    """Train and evaluate one classifier (replication/experiments/table1/run.py)."""
    input:
        dataset_files("mnist"),
    output:
        **job_outputs(
            TABLE1, "classify/{model}/seed{seed}", "history.csv", "batches.csv", "model.pt"
        ),
    log:
        f"{LOGS}/classify/{{model}}-seed{{seed}}.log",
    conda:
        CONDA_ENV
    threads: TABLE1_SETTINGS["threads"]
    resources:
        mem_mb=mem_mb("train_classifier"),
        gpu=gpus(TABLE1_SETTINGS["device"]),
    params:
        **job_params(TABLE1, "classify/{model}/seed{seed}"),
    shell:
        "python -m replication run {params.experiment:q} --spec {params.spec:q}"
        " --out {params.out:q}"
        " --threads {threads} > {log:q} 2>&1"


rule table1:
    """Collect the runs into Table 1, the paper's numbers beside ours (never retrains)."""
    input:
        table_inputs(TABLE1),
    output:
        table_outputs(TABLE1),
    log:
        f"{LOGS}/table1.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("table1"),
    params:
        experiment=TABLE1.name,
        spec=json.dumps(TABLE1.collect_spec(config), sort_keys=True),
        code=TABLE1.fingerprint_of(TABLE1.collect),
        scale=SCALE,
    shell:
        "python -m replication collect {params.experiment:q} {input:q} --spec {params.spec:q}"
        " --scale {params.scale:q} > {log:q} 2>&1"
