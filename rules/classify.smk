# Stage 2: MNIST classifiers (Neural ODE Table 1): one job per (model, seed).
import json

from replication.workflow import classify_fingerprint, classify_run_dir

CLASSIFY_RUNS = {classify_run_dir("results", spec): spec for spec in classify_runs(config)}
CLASSIFY = config["scales"][SCALE]["classify"]


wildcard_constraints:
    model="[a-z0-9]+",
    seed="[0-9]+",


def classify_spec(wildcards):
    return CLASSIFY_RUNS[f"{RESULTS}/classify/{wildcards.model}/seed{wildcards.seed}"]


rule train_classifier:
    input:
        dataset_files("mnist"),
    output:
        metrics=f"{RESULTS}/classify/{{model}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/classify/{{model}}/seed{{seed}}/history.csv",
        batches=f"{RESULTS}/classify/{{model}}/seed{{seed}}/batches.csv",
        provenance=f"{RESULTS}/classify/{{model}}/seed{{seed}}/provenance.json",
        weights=f"{RESULTS}/classify/{{model}}/seed{{seed}}/model.pt",
    params:
        # Snakemake reruns a job when a param changes: the run's resolved config and the
        # fingerprint of the code it imports (see replication/fingerprint.py).
        spec=lambda w: json.dumps(classify_spec(w), sort_keys=True),
        code=lambda w: classify_fingerprint(w.model),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: CLASSIFY["threads"]
    resources:
        gpu=1 if CLASSIFY["device"] == "cuda" else 0,
    log:
        f"{LOGS}/classify/{{model}}-seed{{seed}}.log",
    shell:
        "python -m replication train --spec {params.spec:q} --out {params.out:q}"
        " --data-dir {DATA:q} --checkpoint-dir {CHECKPOINTS:q}/classify"
        " --threads {threads} > {log:q} 2>&1"
