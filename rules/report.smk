# Stage 5: claim-by-claim verdicts and the replication report, from collected results only.
from replication.workflow import claims_fingerprint, report_fingerprint

CLAIMS_FILES = ["replication/claims/claims.yaml", "replication/claims/schema.yaml"]
REPORT_FILES = ["replication/report/report.html.j2", "replication/report/report.css"]
REPORT_INPUTS = [
    rules.table1.output,
    rules.tolerance_sweep.output,
    rules.figure3.output,
    rules.memory_figure.output,
    rules.vae_table.output,
    rules.nfe_vs_dim_table.output,
    rules.ffjord_figures.input,
    rules.article.input,
]


rule claims:
    """Judge every claim of the registry on this scale's results: results/<scale>/claims.csv."""
    input:
        CLAIMS_FILES,
        REPORT_INPUTS,
    output:
        f"{RESULTS}/claims.csv",
    params:
        code=claims_fingerprint(),
        results=RESULTS,
        figures=FIGURES,
        scale=SCALE,
    log:
        f"{LOGS}/claims.log",
    shell:
        "python -m replication claims --results {params.results:q} --figures {params.figures:q}"
        " --scale {params.scale:q} --out {output:q} > {log:q} 2>&1"


rule report:
    """REPORT.md and a self-contained REPORT.html: verdicts, tables, figures, provenance."""
    input:
        REPORT_FILES,
        REPORT_INPUTS,
        claims=rules.claims.output,
    output:
        md=f"{RESULTS}/REPORT.md",
        html=f"{RESULTS}/REPORT.html",
    params:
        code=report_fingerprint(),
        results=RESULTS,
        figures=FIGURES,
    log:
        f"{LOGS}/report.log",
    shell:
        "python -m replication report --results {params.results:q} --figures {params.figures:q}"
        " --claims {input.claims:q} --out-md {output.md:q} --out-html {output.html:q}"
        " > {log:q} 2>&1"
