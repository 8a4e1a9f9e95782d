# Stage 2: VAEs with flow posteriors (FFJORD's VAE table): one job per (dataset, flow, seed).
import json

from replication.config import vae_runs
from replication.workflow import vae_fingerprint, vae_run_dir, vae_table_fingerprint

VAE_RUNS = {vae_run_dir("results", spec): spec for spec in vae_runs(config)}
VAE = config["scales"][SCALE]["vae"]


wildcard_constraints:
    dataset="[a-z0-9_]+",
    flow="[a-z0-9_]+",


def vae_spec(wildcards):
    return VAE_RUNS[f"{RESULTS}/vae/{wildcards.dataset}/{wildcards.flow}/seed{wildcards.seed}"]


rule train_vae:
    input:
        lambda w: dataset_files(w.dataset),
    output:
        metrics=f"{RESULTS}/vae/{{dataset}}/{{flow}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/vae/{{dataset}}/{{flow}}/seed{{seed}}/history.csv",
        provenance=f"{RESULTS}/vae/{{dataset}}/{{flow}}/seed{{seed}}/provenance.json",
    params:
        spec=lambda w: json.dumps(vae_spec(w), sort_keys=True),
        code=lambda w: vae_fingerprint(w.flow, w.dataset),
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: VAE["threads"]
    resources:
        gpu=1 if VAE["device"] == "cuda" else 0,
    log:
        f"{LOGS}/vae/{{dataset}}-{{flow}}-seed{{seed}}.log",
    shell:
        "python -m replication train-vae --spec {params.spec:q} --out {params.out:q}"
        " --data-dir {DATA:q} --checkpoint-dir {CHECKPOINTS:q}/vae"
        " --threads {threads} > {log:q} 2>&1"


rule vae_table:
    """Collect the VAE runs into the table: rows = flows, columns = datasets, paper beside ours."""
    input:
        [f"{run_dir}/metrics.json" for run_dir in VAE_RUNS],
    output:
        runs=f"{RESULTS}/vae/runs.csv",
        table=multiext(f"{RESULTS}/vae_table", ".csv", ".md", ".tex"),
    params:
        code=vae_table_fingerprint(),
        prefix=f"{RESULTS}/vae_table",
        # sorted: the table orders rows and columns as the paper does, whatever the config's order;
        # lists, so that `:q` quotes each name on its own
        datasets=sorted(VAE["datasets"]),
        flows=sorted(VAE["flows"]),
        excluded=sorted(config.get("exclude_datasets") or []),
    log:
        f"{LOGS}/vae_table.log",
    shell:
        "python -m replication vae-table {input:q} --runs-csv {output.runs:q}"
        " --prefix {params.prefix:q} --datasets {params.datasets:q} --flows {params.flows:q}"
        " --excluded {params.excluded:q} > {log:q} 2>&1"
