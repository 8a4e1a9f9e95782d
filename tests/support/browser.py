"""Open a report in a real headless Chromium and ask the rendered page what it shows.

Playwright drives Debian's Chromium (found by :func:`find_chromium`: ``$REPLICATION_CHROMIUM``,
else ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH), never a browser build
of its own, so nothing is downloaded. :func:`inspect_page` returns what the page's JavaScript
reports (every ``<img>``'s ``naturalWidth``, the verdict table), every request the page made and
every console error, so a test can check that the report loads all its figures with no network.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Beside Playwright's own (headless, no first run, no background networking or sync): run as
# root in a container, whose /dev/shm may be small.
FLAGS = ("--no-sandbox", "--disable-dev-shm-usage")
INSTALL_HINT = (
    "install Debian's Chromium (`apt-get update && apt-get install -y chromium`) or set "
    "REPLICATION_CHROMIUM to a Chromium/Chrome executable"
)

PAGE_REPORT_JS = """
async () => {
  const images = Array.from(document.images);
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  const table = document.querySelector('#verdict-table');
  return {
    title: document.title,
    images: images.map(img => ({src: img.currentSrc.slice(0, 40), complete: img.complete,
                                naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight})),
    verdictTable: table !== null,
    verdictRows: table ? table.querySelectorAll('tbody tr[data-verdict]').length : 0,
    verdicts: table ? Array.from(table.querySelectorAll('tbody tr[data-verdict]'))
                        .map(row => row.dataset.verdict) : [],
    csp: (document.querySelector('meta[http-equiv="Content-Security-Policy"]') || {})
           .content || null,
  };
}
"""

# Try to load an image from the network after the checks: the page's CSP must block it.
CSP_PROBE_JS = """
() => new Promise(resolve => {
  document.addEventListener('securitypolicyviolation',
                            event => resolve({blocked: true, uri: event.blockedURI}), {once: true});
  const probe = new Image();
  probe.src = 'http://127.0.0.1:9/probe.png';
  document.body.appendChild(probe);
  setTimeout(() => resolve({blocked: false, uri: null}), 3000);
})
"""


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or the page could not be inspected."""


def find_chromium() -> str | None:
    configured = os.environ.get("REPLICATION_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def inspect_page(
    html: Path | str, *, timeout: float = 60.0, probe_csp: bool = True, chromium: str | None = None
) -> dict:
    """Load *html* in headless Chromium; return the page's own report (see ``PAGE_REPORT_JS``)
    plus ``requests`` (every URL the page asked for), ``console`` (error messages and uncaught
    exceptions) and, with *probe_csp*, ``csp_probe`` (whether an image from the network was
    blocked)."""
    executable = chromium or find_chromium()
    if executable is None:
        raise BrowserError(f"Chromium not found: {INSTALL_HINT}")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError as error:
        raise BrowserError(
            f"{error.name} is not installed: the test environment is out of date with its lock; "
            "`make env` rebuilds it (or `pip install -r envs/cpu.lock.txt`)"
        ) from error
    url = Path(html).resolve().as_uri()
    requests: list[str] = []
    console: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable, args=list(FLAGS), timeout=timeout * 1000
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(timeout * 1000)
                page.on("request", lambda request: requests.append(request.url[:80]))
                page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))
                page.goto(url, wait_until="load")
                report = page.evaluate(PAGE_REPORT_JS)
                report["requests"], report["console"] = list(requests), list(console)
                if probe_csp:
                    report["csp_probe"] = page.evaluate(CSP_PROBE_JS)
                return report
            finally:
                browser.close()
    except PlaywrightError as error:
        raise BrowserError(f"Chromium ({executable}) could not inspect {url}: {error}") from error
