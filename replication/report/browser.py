"""Open a report in a real headless Chromium and ask the rendered page what it shows.

Standard library only: Chromium is started with ``--remote-debugging-port=0`` in a fresh profile
folder, and a minimal WebSocket client speaks the DevTools protocol to it (navigate, wait for the
load event, evaluate JavaScript). :func:`inspect_page` returns what the page's JavaScript
reports (every ``<img>``'s ``naturalWidth``, the verdict table) and every network request the
page made, so a test can check that the report loads all its figures with no network.

The browser is found by :func:`find_chromium`: ``$REPLICATION_CHROMIUM``, else ``chromium``,
``chromium-browser``, ``google-chrome`` on the PATH (Debian: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)

PAGE_REPORT_JS = """
(async () => {
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
})()
"""

# Try to load an image from the network after the checks: the page's CSP must block it.
CSP_PROBE_JS = """
new Promise(resolve => {
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


INSTALL_HINT = (
    "install Debian's Chromium (`apt-get update && apt-get install -y chromium`) or set "
    "REPLICATION_CHROMIUM to a Chromium/Chrome executable"
)


# --- a minimal WebSocket client (RFC 6455, client side) ------------------------------------------


class WebSocket:
    def __init__(self, url: str, timeout: float):
        if not url.startswith("ws://"):
            raise BrowserError(f"unsupported DevTools URL {url!r}")
        host_port, _, path = url[len("ws://") :].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise BrowserError(f"DevTools refused the WebSocket: {head.decode(errors='replace')}")

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BrowserError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def send(self, text: str, opcode: int = 0x1) -> None:
        payload = text.encode() if isinstance(text, str) else text
        header = bytes([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 2**16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping -> pong
                self.send(payload, opcode=0xA)
                continue
            if opcode == 0x8:
                raise BrowserError("DevTools closed the WebSocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if first & 0x80:
                    return message.decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class DevTools:
    """Commands and events on one page target."""

    def __init__(self, url: str, timeout: float):
        self.ws = WebSocket(url, timeout)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, deadline: float) -> dict:
        for event in self.events:
            if event["method"] == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message
        raise BrowserError(f"timed out waiting for {method}")

    def evaluate(self, expression: str) -> object:
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


# --- inspecting a page ---------------------------------------------------------------------------


def _devtools_port(profile: Path, process: subprocess.Popen, deadline: float) -> int:
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"Chromium exited at start (status {process.returncode})")
        if marker.is_file():
            lines = marker.read_text().splitlines()
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
        time.sleep(0.1)
    raise BrowserError("Chromium did not open its DevTools port in time")


def _page_target(port: int, deadline: float) -> str:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as reply:
                targets = json.loads(reply.read())
        except OSError:
            time.sleep(0.1)
            continue
        pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise BrowserError("Chromium opened no page target")


def inspect_page(
    html: Path | str, *, timeout: float = 60.0, probe_csp: bool = True, chromium: str | None = None
) -> dict:
    """Load *html* in headless Chromium; return the page's own report (see ``PAGE_REPORT_JS``)
    plus ``requests`` (every URL the page asked for), ``console`` (error messages) and, with
    *probe_csp*, ``csp_probe`` (whether an image from the network was blocked)."""
    executable = chromium or find_chromium()
    if executable is None:
        raise BrowserError(f"Chromium not found: {INSTALL_HINT}")
    url = Path(html).resolve().as_uri()
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        devtools = None
        try:
            port = _devtools_port(Path(profile), process, deadline)
            devtools = DevTools(
                _page_target(port, deadline), timeout=max(1.0, deadline - time.monotonic())
            )
            devtools.call("Network.enable")
            devtools.call("Log.enable")
            devtools.call("Page.enable")
            devtools.call("Page.navigate", url=url)
            devtools.wait_for("Page.loadEventFired", deadline)
            page = devtools.evaluate(PAGE_REPORT_JS)
            page["requests"] = [
                e["params"]["request"]["url"][:80]
                for e in devtools.events
                if e["method"] == "Network.requestWillBeSent"
            ]
            page["console"] = [
                e["params"]["entry"].get("text", "")
                for e in devtools.events
                if e["method"] == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
            ]
            if probe_csp:
                page["csp_probe"] = devtools.evaluate(CSP_PROBE_JS)
            return page
        finally:
            if devtools is not None:
                devtools.ws.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
