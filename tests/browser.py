"""Open gisplan's HTML maps in headless Debian chromium with the network cut (playwright).

``offline_browser()`` starts one chromium for a test module; ``open_offline(browser, path)``
opens a page from disk in a fresh context where every request that is not ``file:`` or
``data:`` is aborted *and recorded*, and console errors and page errors are collected, so
a test can assert that the page asked the network for nothing and logged no error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: every run writes its screenshots here (untracked); the curated, looked-at set is
#: copied into tests/artifacts/ by hand and tracked in git
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "run"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip (or fail in CI, ``GISPLAN_REQUIRE_BROWSER=1``) when chromium is missing."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("GISPLAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but {reason}")
        pytest.skip(reason)


@contextmanager
def offline_browser() -> Iterator[Any]:
    """Start headless chromium with a fresh user-data-dir; yield the persistent context."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="gisplan-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=ARGS,
                viewport={"width": 1280, "height": 860}, locale="zh-CN",
                service_workers="block",
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class OfflinePage:
    """A page opened from disk with every network request aborted and recorded."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Everything that makes the page fail: requests tried, console and page errors."""
        return ([f"network request: {u}" for u in self.blocked]
                + [f"console error: {m}" for m in self.console_errors]
                + [f"page error: {m}" for m in self.page_errors])

    def drawn(self) -> dict[str, dict[str, Any]]:
        """``gisplan.drawn()``: per layer key, the features it holds and whether it is on."""
        return self.page.evaluate("() => window.gisplan.drawn()")

    def count(self, selector: str) -> int:
        """Number of elements matching *selector*."""
        return int(self.page.locator(selector).count())

    def screenshot(self, name: str) -> Path:
        """Save a PNG under ``tests/artifacts/run/`` (untracked) and return its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


PHONE = {"width": 390, "height": 844}


def open_offline(context: Any, path: Path, *, settle_ms: int = 300,
                 timeout_ms: float = 30_000,
                 viewport: dict[str, int] | None = None) -> OfflinePage:
    """Open *path* (a local HTML file) in a new page of *context* with the network cut.

    *viewport* (e.g. :data:`PHONE`, 390 × 844) sets the page size before it loads.
    """
    page = context.new_page()
    if viewport is not None:
        page.set_viewport_size(viewport)
    result = OfflinePage(page)

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            r.continue_()
        else:
            result.blocked.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: result.console_errors.append(m.text)
            if m.type == "error" else None)
    page.on("pageerror", lambda e: result.page_errors.append(str(e)))
    page.on("dialog", lambda d: (result.page_errors.append(f"dialog opened: {d.message}"),
                                 d.dismiss()))
    page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    page.wait_for_function("() => window.gisplan && Object.keys(window.gisplan.layers).length",
                           timeout=timeout_ms)
    page.wait_for_timeout(settle_ms)
    return result
