"""The command line: CUDA jobs on a machine without CUDA stop with advice, not a traceback."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_memory_depth_on_cuda_without_cuda_explains_itself(tmp_path):
    spec = {"device": "cuda", "threads": 1, "depths": [1, 2], "batch_size": 2, "width": 4,
            "downsampling": "conv", "solver": "rk4", "repeats": 1, "seed": 0}
    done = subprocess.run(
        [sys.executable, "-m", "replication", "memory-depth", "--spec", json.dumps(spec),
         "--out", str(tmp_path / "points.csv")],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert "no CUDA device" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "points.csv").exists()


def test_plan_prints_one_specification_per_run():
    done = subprocess.run([sys.executable, "-m", "replication", "plan", "--scale", "cpu"],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    specs = [json.loads(line) for line in done.stdout.splitlines()]
    assert {spec["model"] for spec in specs} == {"mlp", "resnet", "rknet", "odenet", "stem",
                                                 "resnet1"}
    assert all(spec["scale"] == "cpu" for spec in specs)
