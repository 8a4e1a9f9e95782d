# Claim-by-claim verdicts and the replication report, from every experiment's products only.
REPORT_CLAIMS = ["replication/claims/claims.yaml", "replication/claims/schema.yaml"]
REPORT_TEMPLATES = ["replication/report/report.html.j2", "replication/report/report.css"]
REPORT_CAPTIONS = [f"replication/experiments/{e.name}/caption.md" for e in experiments()]


rule claims:
    """Judge every claim of the registry on this scale's results: results/<scale>/claims.csv."""
    input:
        REPORT_CLAIMS,
        products(),
    output:
        f"{RESULTS}/claims.csv",
    log:
        f"{LOGS}/claims.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("claims"),
    params:
        code=code_fingerprint("replication.claims.verdicts"),
        scale=SCALE,
    shell:
        "python -m replication claims --scale {params.scale:q} > {log:q} 2>&1"


rule report:
    """REPORT.md and a self-contained REPORT.html: verdicts, tables, figures, provenance."""
    input:
        REPORT_TEMPLATES,
        REPORT_CAPTIONS,
        products(),
        claims=rules.claims.output,
    output:
        md=f"{RESULTS}/REPORT.md",
        html=f"{RESULTS}/REPORT.html",
    log:
        f"{LOGS}/report.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=mem_mb("report"),
    params:
        code=code_fingerprint("replication.report.build"),
        scale=SCALE,
    shell:
        "python -m replication report --scale {params.scale:q} > {log:q} 2>&1"
