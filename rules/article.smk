# Stage 2: the source article's own experiments (spec §4.1, claims A1–A4), as jobs like any other.
import json

from replication.article.commands import article_jobs, job_dir
from replication.workflow import article_fingerprint

ARTICLE = config["scales"][SCALE]["article"]
ARTICLE_RUNS = {job_dir("results", spec): spec for spec in article_jobs(ARTICLE, scale=SCALE)}
ARTICLE_CODE = article_fingerprint()


wildcard_constraints:
    readout="[A-Za-z_]+",


def article_spec(path):
    return json.dumps(ARTICLE_RUNS[path], sort_keys=True)


rule article_a1:
    """A1: the article's NumPy Euler-and-adjoint network, batch size 1, one epoch."""
    input:
        dataset_files("mnist"),
    output:
        metrics=f"{RESULTS}/article/a1/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/article/a1/seed{{seed}}/history.csv",
        params=f"{RESULTS}/article/a1/seed{{seed}}/params.npz",
        provenance=f"{RESULTS}/article/a1/seed{{seed}}/provenance.json",
    params:
        spec=lambda w: article_spec(f"{RESULTS}/article/a1/seed{w.seed}"),
        code=ARTICLE_CODE,
        out=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"{LOGS}/article/a1-seed{{seed}}.log",
    shell:
        "python -m replication article-a1 --spec {params.spec:q} --data-dir {DATA:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule article_a2:
    """A2: A1's trained network at other step counts n and step sizes dt, no retraining."""
    input:
        dataset_files("mnist"),
        params=rules.article_a1.output.params,
    output:
        metrics=f"{RESULTS}/article/a2/seed{{seed}}/metrics.json",
        rows=f"{RESULTS}/article/a2/seed{{seed}}/rows.csv",
        provenance=f"{RESULTS}/article/a2/seed{{seed}}/provenance.json",
    params:
        spec=lambda w: article_spec(f"{RESULTS}/article/a2/seed{w.seed}"),
        code=ARTICLE_CODE,
        out=lambda w, output: os.path.dirname(output.metrics),
    log:
        f"{LOGS}/article/a2-seed{{seed}}.log",
    shell:
        "python -m replication article-a2 --spec {params.spec:q} --params {input.params:q}"
        " --data-dir {DATA:q} --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule article_a3:
    """A3: the article's "CNF" classifier snippet."""
    input:
        dataset_files("mnist"),
    output:
        metrics=f"{RESULTS}/article/a3/seed{{seed}}/metrics.json",
        batches=f"{RESULTS}/article/a3/seed{{seed}}/batches.csv",
        provenance=f"{RESULTS}/article/a3/seed{{seed}}/provenance.json",
    params:
        spec=lambda w: article_spec(f"{RESULTS}/article/a3/seed{w.seed}"),
        code=ARTICLE_CODE,
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: ARTICLE["a3"]["threads"]
    resources:
        gpu=1 if ARTICLE["a3"]["device"] == "cuda" else 0,
    log:
        f"{LOGS}/article/a3-seed{{seed}}.log",
    shell:
        "python -m replication article-a3 --spec {params.spec:q} --data-dir {DATA:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule article_a4:
    """A4: the article's "FFJORD" classifier snippet, per readout (as written / z(T))."""
    input:
        dataset_files("mnist"),
    output:
        metrics=f"{RESULTS}/article/a4/{{readout}}/seed{{seed}}/metrics.json",
        batches=f"{RESULTS}/article/a4/{{readout}}/seed{{seed}}/batches.csv",
        provenance=f"{RESULTS}/article/a4/{{readout}}/seed{{seed}}/provenance.json",
    params:
        spec=lambda w: article_spec(f"{RESULTS}/article/a4/{w.readout}/seed{w.seed}"),
        code=ARTICLE_CODE,
        out=lambda w, output: os.path.dirname(output.metrics),
    threads: ARTICLE["a4"]["threads"]
    resources:
        gpu=1 if ARTICLE["a4"]["device"] == "cuda" else 0,
    log:
        f"{LOGS}/article/a4-{{readout}}-seed{{seed}}.log",
    shell:
        "python -m replication article-a4 --spec {params.spec:q} --data-dir {DATA:q}"
        " --out {params.out:q} --threads {threads} > {log:q} 2>&1"


rule article:
    """Every article job of this scale."""
    input:
        [f"{run_dir}/metrics.json" for run_dir in ARTICLE_RUNS],
