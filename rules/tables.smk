# Stage 4: tables from collected results only (never retrains).
from replication.workflow import table1_fingerprint

rule table1:
    input:
        [f"{run_dir}/metrics.json" for run_dir in CLASSIFY_RUNS],
    output:
        runs=f"{RESULTS}/classify/runs.csv",
        table=multiext(f"{RESULTS}/table1", ".csv", ".md", ".tex"),
    params:
        code=table1_fingerprint(),
        prefix=f"{RESULTS}/table1",
    log:
        f"{LOGS}/table1.log",
    shell:
        "python -m replication table1 {input:q} --runs-csv {output.runs:q}"
        " --prefix {params.prefix:q} > {log:q} 2>&1"
