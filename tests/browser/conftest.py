"""Fixtures for end-to-end tests: the studio served in-process on free ports, and Debian's Chromium driven by
Playwright. Screenshots go to ``test-artifacts/browser/``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

from studio_helpers import PAGE_TIMEOUT_MS, free_port, wait_for  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in a real browser (Chromium)")


@pytest.fixture(scope="session")
def studio_app():
    """The running studio: (url, registry, service). Stopped after the tests."""
    from studio.app import launch
    from studio.config import StudioConfig

    port = free_port()
    config = StudioConfig.from_env(port=port, viser_port=free_port())
    demo, registry, service = launch(config, block=False, quiet=True)
    service.engine(timeout=120)  # the engine loads in the background; tests want it ready
    yield f"http://127.0.0.1:{port}/", registry, service
    registry.close_all()
    demo.close()


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def studio_page(browser, studio_app):
    """One page (one studio session) shared by a module's tests, which run in order like a user's visit."""
    url, registry, _ = studio_app
    context = browser.new_context(viewport={"width": 1600, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    before = {id(live) for live in registry.sessions()}
    page.goto(url)
    page.wait_for_selector("#viser-frame")
    live = wait_for(lambda: next((s for s in registry.sessions() if id(s) not in before), None),
                    what="the page's studio session")
    yield page, live
    context.close()


@pytest.fixture(scope="session")
def shot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, live=None) -> Path:
        if live is not None:
            live.viewport.flush()
            time.sleep(0.6)  # let the viewer render the last scene update
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "studio_page" in item.fixturenames:
        page, _ = item.funcargs["studio_page"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"FAILED_{item.name}.png"), full_page=True)
        except Exception:
            pass
