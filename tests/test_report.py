"""The replication report, built from a small synthetic results folder; then opened in Chromium."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from replication.claims.verdicts import evaluate_claims, load_claims, write_claims_csv  # noqa: E402
from replication.cli import main  # noqa: E402
from replication.report import captions  # noqa: E402
from replication.report.build import write_report  # noqa: E402
from tests.support.browser import (  # noqa: E402
    INSTALL_HINT,
    BrowserError,
    find_chromium,
    inspect_page,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_png(path: Path, color: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = plt.figure(figsize=(1.0, 0.6), dpi=40)
    figure.gca().plot([0, 1], [0, 1], color=color)
    figure.savefig(path)
    plt.close(figure)


def provenance(path: Path, sha: str, started: str, finished: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "git_sha": sha,
                "git_dirty": False,
                "started": started,
                "finished": finished,
                "device": "cpu",
                "device_name": "Test CPU",
                "cpu_model": "Test CPU",
                "cpu_count": 2,
                "torch_threads": 2,
                "torch_cuda": None,
                "cudnn": None,
                "platform": "Linux-test",
                "packages": {"python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6"},
            }
        )
    )


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict:
    """results/cpu and figures/cpu with Table 1, one article experiment, three PNGs, provenance."""
    root = tmp_path_factory.mktemp("report")
    results, figures = root / "results" / "cpu", root / "figures" / "cpu"
    results.mkdir(parents=True)
    pd.DataFrame(
        [
            {
                "model": m,
                "n_seeds": 1,
                "test_error_mean": e,
                "test_error_std": None,
                "parameters": p,
                "peak_memory_bytes": 1e8,
            }
            for m, e, p in (
                ("mlp", 1.7, 238510),
                ("resnet", 0.45, 601482),
                ("rknet", 0.5, 232970),
                ("odenet", 0.44, 232970),
            )
        ]
    ).to_csv(results / "table1.csv", index=False)
    (results / "table1.md").write_text(
        "### Neural ODE Table 1 (MNIST)\n\n"
        "| Model | Test error % (ours) | (paper) |\n|:--|--:|--:|\n"
        "| ODE-Net | 0.44 | 0.42 |\n| <script>alert(1)</script> | 1 | 2 |\n\n"
        "- A note with `code`.\n"
    )
    (results / "article" / "a1" / "seed0").mkdir(parents=True)
    (results / "article" / "a1" / "seed0" / "metrics.json").write_text(
        json.dumps({"test_accuracy": 0.924})
    )
    (results / "article" / "a1" / "a1.md").write_text(
        "### A1\n\n| Seed | Accuracy % |\n|---|---:|\n| 0 | 92.4 |\n"
    )
    (results / "article" / "summary.md").write_text(
        "### Article summary\n\n| A | B |\n|---|---|\n| 1 | 2 |\n"
    )
    tiny_png(figures / "figure3.png", "tab:blue")
    tiny_png(figures / "memory_depth.png", "tab:orange")
    tiny_png(figures / "extra_plot.png", "tab:green")  # present, but no caption registered
    provenance(
        results / "classify" / "odenet" / "seed0" / "provenance.json",
        "a" * 40,
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T00:10:00+00:00",
    )
    provenance(
        results / "memory_depth" / "provenance.json",
        "b" * 40,
        "2026-01-01T01:00:00+00:00",
        "2026-01-01T01:00:30+00:00",
    )
    claims = results / "claims.csv"
    write_claims_csv(
        evaluate_claims(load_claims(), results=results, figures=figures, scale="cpu"), claims
    )
    out_md, out_html = results / "REPORT.md", results / "REPORT.html"
    report = write_report(
        results=results, figures=figures, claims=claims, out_md=out_md, out_html=out_html
    )
    return {
        "results": results,
        "figures": figures,
        "claims": claims,
        "md": out_md,
        "html": out_html,
        "report": report,
        "n_claims": len(load_claims()),
    }


class Page(HTMLParser):
    """Tags and attributes of a page, in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def test_markdown_report_puts_verdicts_first_and_lists_what_did_not_run(synthetic):
    text = synthetic["md"].read_text()
    order = [
        text.index(h)
        for h in (
            "## 1. Verdicts",
            "## 2. Tables",
            "## 3. Figures",
            "## 4. Provenance",
            "## 5. Claims in detail",
        )
    ]
    assert order == sorted(order)
    assert f"{synthetic['n_claims']} claims at scale `cpu`" in text
    assert "| ODE-Net | 0.44 | 0.42 |" in text  # ours beside the paper's
    assert "### FFJORD VAE table (test −ELBO) — not run" in text
    assert "### Article A2: Euler steps and step size at test time — not run" in text
    assert "### Article A1: the NumPy Neural ODE on MNIST" in text
    assert "### Article summary" in text  # present, not listed: shown
    assert "### FFJORD Figure 5: NFE vs latent dimension — not run" in text
    for figure in ("figure3.png", "memory_depth.png", "extra_plot.png"):
        link = f"](../../figures/cpu/{figure})"
        assert link in text and (synthetic["md"].parent / link[2:-1]).is_file()
    assert captions.UNLISTED_CAPTION in text
    for entry in captions.FIGURES[:2]:
        assert entry.caption in text


def test_provenance_is_aggregated(synthetic):
    text = synthetic["md"].read_text()
    assert "| cpu | Test CPU | 2 | 2 | – | – | Linux-test | 2 |" in text
    assert "| torch | 2.13.0+cpu |" in text
    assert (
        "| aaaaaaaaaaaa | no | 1 | classify |" in text
        and "| bbbbbbbbbbbb | no | 1 | memory_depth |" in text
    )
    assert "| classify | 1 | 10.0 min |" in text and "| memory_depth | 1 | 30 s |" in text
    assert "total run time 10.5 min" in text


def test_html_is_self_contained_with_the_verdict_table_first(synthetic):
    text = synthetic["html"].read_text()
    page = Page(text)
    tables = page.all("table")
    assert tables and tables[0].get("id") == "verdict-table"
    rows = [attrs for attrs in page.all("tr") if "data-verdict" in attrs]
    assert len(rows) == synthetic["n_claims"]
    images = page.all("img")
    assert len(images) == 3
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(attrs["src"].split(",", 1)[1]).startswith(PNG_SIGNATURE)
    csp = [a for a in page.all("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert (
        csp and "default-src 'none'" in csp[0]["content"] and "img-src data:" in csp[0]["content"]
    )
    assert not page.all("script") and not page.all("link") and not page.all("iframe")
    for _, attrs in page.tags:
        for name in ("src", "href"):
            assert not str(attrs.get(name, "")).startswith(("http:", "https:", "//"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # table files cannot inject markup
    assert "FFJORD VAE table (test −ELBO) — not run" in text


def test_report_command(synthetic, tmp_path, capsys):
    status = main(["report", "--scale", "cpu", "--results", str(synthetic["results"]),
                   "--figures", str(synthetic["figures"]), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert "report for scale cpu" in out and "FFJORD VAE table" in out.split("not run: ", 1)[1]
    assert (tmp_path / "REPORT.md").is_file() and (tmp_path / "REPORT.html").is_file()
    with pytest.raises(FileNotFoundError, match="run `python -m replication claims` first"):
        write_report(
            results=synthetic["results"],
            figures=synthetic["figures"],
            claims=tmp_path / "none.csv",
            out_md=tmp_path / "x.md",
            out_html=tmp_path / "x.html",
        )


def test_report_renders_in_headless_chromium(synthetic):
    """A real browser: every image decodes, the verdict table is there, nothing is fetched."""
    if find_chromium() is None:
        pytest.fail(f"Chromium is needed for this test and was not found: {INSTALL_HINT}")
    page = inspect_page(synthetic["html"], timeout=90)
    assert page["verdictTable"] and page["verdictRows"] == synthetic["n_claims"]
    assert len(page["images"]) == 3
    for image in page["images"]:
        assert image["complete"] and image["naturalWidth"] > 0, image
    assert all(url.startswith(("file:", "data:")) for url in page["requests"]), page["requests"]
    assert page["console"] == []
    assert page["csp_probe"]["blocked"], "the page's CSP let an image load from the network"


def test_a_missing_chromium_is_an_error_that_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATION_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert find_chromium() is None
    with pytest.raises(BrowserError, match="apt-get install -y chromium"):
        inspect_page(tmp_path / "REPORT.html")
