# Stage 3: measurements on trained models and on fresh ones (Neural ODE Figure 3, memory vs depth).
import json

from replication.workflow import memory_depth_fingerprint, tolerance_fingerprint

FIGURE3 = config["scales"][SCALE]["figure3"]
MEMORY_DEPTH = config["scales"][SCALE]["memory_depth"]
ODENET_RUN = f"{RESULTS}/classify/odenet/seed{FIGURE3['seed']}"


rule tolerance_sweep:
    """Figure 3a/b: solve the trained ODE-Net's block at each tolerance (no retraining)."""
    input:
        weights=f"{ODENET_RUN}/model.pt",
        data=dataset_files("mnist"),
    output:
        sweep=f"{RESULTS}/figure3/tolerance_sweep.csv",
        provenance=f"{RESULTS}/figure3/tolerance_sweep.provenance.json",
    params:
        spec=json.dumps(FIGURE3, sort_keys=True),
        code=tolerance_fingerprint(),
        device=CLASSIFY["device"],
    threads: CLASSIFY["threads"]
    resources:
        gpu=1 if CLASSIFY["device"] == "cuda" else 0,
    log:
        f"{LOGS}/figure3/tolerance_sweep.log",
    shell:
        "python -m replication tolerance-sweep --weights {input.weights:q}"
        " --spec {params.spec:q}"
        " --device {params.device:q} --data-dir {DATA:q} --out {output.sweep:q}"
        " --threads {threads} > {log:q} 2>&1"


rule memory_depth:
    """Peak memory and time of one training step for ResNet / RK-Net / adjoint at each depth."""
    output:
        points=f"{RESULTS}/memory_depth/points.csv",
        provenance=f"{RESULTS}/memory_depth/points.provenance.json",
    params:
        spec=json.dumps(MEMORY_DEPTH, sort_keys=True),
        code=memory_depth_fingerprint(),
    threads: MEMORY_DEPTH["threads"]
    resources:
        gpu=1 if MEMORY_DEPTH["device"] == "cuda" else 0,
    log:
        f"{LOGS}/memory_depth.log",
    shell:
        "python -m replication memory-depth --spec {params.spec:q} --out {output.points:q}"
        " --threads {threads} > {log:q} 2>&1"
