"""Code fingerprints: what makes Snakemake rerun exactly the jobs whose code changed."""
import shutil
import sys

import pytest

from replication.experiments.registry import experiment
from replication.fingerprint import code_fingerprint, dependency_closure


def classify_fingerprint(model: str) -> str:
    (spec, *_) = [s for s in experiment("table1").jobs(_config()) if s["model"] == model]
    return experiment("table1").fingerprint(spec)


def _config() -> dict:
    from replication.config import load_config

    return load_config(overrides={"scale": "smoke"})


def test_a_model_depends_on_its_own_module_and_not_on_the_others():
    odenet = dependency_closure("replication.experiments.table1.run", "replication.models.odenet")
    assert "replication.models.odenet" in odenet
    assert "replication.ode.solve" in odenet
    assert "replication.models.resnet" not in odenet
    assert "replication.models.mlp" not in odenet
    assert "replication.cli" not in odenet


def test_parent_packages_are_dependencies():
    assert {"replication", "replication.models"} <= set(dependency_closure("replication.models.mlp"))


def test_fingerprints_differ_between_models_sharing_code():
    assert classify_fingerprint("odenet") != classify_fingerprint("resnet")
    assert classify_fingerprint("odenet") == classify_fingerprint("odenet")


@pytest.fixture()
def package_copy(tmp_path, repo_root, monkeypatch):
    """A private copy of the package, imported instead of the real one."""
    shutil.copytree(repo_root / "replication", tmp_path / "replication",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "replication" or m.startswith("replication.")]:
        monkeypatch.delitem(sys.modules, name)
    import replication.fingerprint as fingerprint

    fingerprint._parse.cache_clear()
    yield tmp_path / "replication", fingerprint
    fingerprint._parse.cache_clear()


def test_comments_do_not_change_the_fingerprint_but_code_does(package_copy):
    package, fingerprint = package_copy
    before = fingerprint.code_fingerprint("replication.models.mlp")
    source = package / "models" / "mlp.py"
    source.write_text(source.read_text() + "\n# a comment\n")
    fingerprint._parse.cache_clear()
    assert fingerprint.code_fingerprint("replication.models.mlp") == before
    source.write_text(source.read_text().replace("hidden: int = 300", "hidden: int = 301"))
    fingerprint._parse.cache_clear()
    assert fingerprint.code_fingerprint("replication.models.mlp") != before


def test_unknown_module_is_an_error():
    with pytest.raises(ModuleNotFoundError):
        code_fingerprint("replication.nothing_here")


def test_relative_imports_are_followed(package_copy):
    package, fingerprint = package_copy
    (package / "models" / "extra.py").write_text("from .blocks import norm\nfrom . import mlp\n")
    fingerprint._parse.cache_clear()
    closure = fingerprint.dependency_closure("replication.models.extra")
    assert {"replication.models.blocks", "replication.models.mlp"} <= set(closure)
