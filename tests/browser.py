"""Browser-test helpers: serve a built static site on 127.0.0.1 and open it in Debian's Chromium.

Why: the report is meant to open inside a closed network, so tests drive the system Chromium
(no browser download) with its background networking off, and record every request the page makes
so a test can assert that none leaves the machine.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
# The report is a single-page app: its figures appear once DuckDB-Wasm has run the page's queries,
# which needs no network; a page is read when no loading placeholder is left and its text held still.
_SETTLED = """() => {
    if (document.querySelector('[role=status].animate-pulse')) return false;
    const text = document.body ? document.body.innerText : '';
    if (text.includes('Загрузка…') || text.includes('Loading')) return false;
    const now = Date.now();
    if (window.__ropText !== text) { window.__ropText = text; window.__ropSince = now; return false; }
    return now - window.__ropSince >= 400;
}"""


# Tables wider than the box they scroll in, i.e. columns a reader must scroll sideways to find:
# [the first headers, the table's width, the box's width] for each.
WIDE_TABLES_PROBE = """() => [...document.querySelectorAll('table')]
    .filter((t) => t.getBoundingClientRect().width > 0)
    .map((t) => {
        let box = t.parentElement;
        while (box && box !== document.body && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) {
            box = box.parentElement;
        }
        const heads = [...t.querySelectorAll('thead th')].map((th) => th.innerText.trim()).filter(Boolean);
        return [heads.slice(0, 3).join(' | '), box.scrollWidth, box.clientWidth];
    })
    .filter(([, wide, room]) => wide > room + 1)"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@contextlib.contextmanager
def serve_dir(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on a free 127.0.0.1 port for the duration; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class PageVisit:
    """What a page did while open: its visible text, requests, console errors."""

    text: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    html: str = ""
    after: str = ""  # the page's text after `act` ran (a filter clicked), else ""
    chrome: str = ""  # text shown only on demand: the first table hovered, the page's menu open
    probed: Any = None  # what the `probe` script returned

    @property
    def foreign_requests(self) -> list[str]:
        """Requests to any host other than this machine (data: and blob: URLs are local)."""
        out = []
        for url in self.requests:
            parsed = urlparse(url)
            if parsed.scheme in ("data", "blob", "about", "chrome-extension"):
                continue
            if parsed.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out


def visit(
    url: str,
    wait_for_text: str | None = None,
    screenshot: Path | None = None,
    timeout_ms: int = 60_000,
    act: Callable[[Any], None] | None = None,
    viewport: tuple[int, int] = (1280, 900),
    color_scheme: str = "light",
    open_chrome: bool = False,
    probe: str | None = None,
) -> PageVisit:
    """Open `url` in headless Chromium, wait until the page settles (and shows `wait_for_text`).

    `act(page)` (a Playwright page) runs after the screenshot, e.g. to click a filter; the text
    after it is `PageVisit.after`. `viewport` and `color_scheme` give a phone or a dark screen.
    `open_chrome` also reads the words a reader sees only on demand (a table's buttons appear on
    hover, the page menu on a click) into `PageVisit.chrome`; `probe` is a JavaScript function run
    in the settled page, its result in `PageVisit.probed`.
    """
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="ru-RU",
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        try:
            page = context.new_page()
            page.on("request", lambda req: requests.append(req.url))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            page.goto(url, wait_until="networkidle", timeout=timeout_ms)
            if wait_for_text:
                page.get_by_text(wait_for_text, exact=False).first.wait_for(timeout=timeout_ms)
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            _settle(page, timeout_ms)
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
            text, html = page.inner_text("body"), page.content()
            probed = page.evaluate(probe) if probe else None
            chrome = _chrome_text(page) if open_chrome else ""
            after = ""
            if act:
                act(page)
                page.wait_for_load_state("networkidle", timeout=timeout_ms)
                _settle(page, timeout_ms)
                after = page.inner_text("body")
            return PageVisit(
                text=text,
                requests=requests,
                console_errors=errors,
                html=html,
                after=after,
                chrome=chrome,
                probed=probed,
            )
        finally:
            context.close()


def _settle(page: Any, timeout_ms: int) -> None:
    page.wait_for_function(_SETTLED, timeout=timeout_ms, polling=100)


def _chrome_text(page: Any) -> str:
    """The page's text with the pointer on its first table (download and full-screen buttons show),
    then with the page menu (the three dots) open; the menu is closed again."""
    parts = []
    tables = page.locator(".table-container >> visible=true")
    if tables.count():
        tables.first.hover()
        page.wait_for_timeout(500)  # the buttons fade in
        parts.append(page.inner_text("body"))
    page.locator("header [data-menu-trigger]").first.click()
    page.wait_for_timeout(300)
    parts.append(page.inner_text("body"))
    page.keyboard.press("Escape")
    page.mouse.move(0, 0)
    return "\n".join(parts)


def stray_spaces(text: str) -> list[str]:
    """Places where a space stands before a full stop, comma, semicolon, colon or closing bracket."""
    return [m.group(0) for m in re.finditer(r"\S{1,12} [.,;:)](?=\s|$)", text)]
