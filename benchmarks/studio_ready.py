"""Time to a usable studio: how long a fresh browser tab takes until its first "Add keyframe" is accepted.

    python -m benchmarks.studio_ready [--tabs 3]

Serves the studio in this process (the engine loaded first, as on a studio that is already up), opens
``--tabs`` new tabs one after another in Debian's Chromium (the first in a new profile, an empty HTTP
cache; the others in the same browser, as a user opens another tab; ``--cold-cache``: every tab in a new
profile), and times in each, from ``goto``:

- ``page``: the "Add keyframe" button is on the page (Gradio's structure);
- ``viewer``: the 3D view's iframe is on the page (the tab's session and its Viser server exist);
- ``connected``: the viewer's client has connected and reported its camera (the studio can add a keyframe);
- ``keyframe``: the first click on "Add keyframe" that the studio accepted is shown ("keyframe 1 added").
  While the button is disabled ("Connecting the 3D view…") it is not clicked; ``refused`` counts enabled
  clicks that did not add the keyframe within 2 s.

Named bound (issue 13): ``keyframe`` under 3 s on this project's 2-core machine. Printed with its ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOUND_S = 3.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_tab(context, url: str, registry) -> dict[str, float]:
    before = {id(s) for s in registry.sessions()}
    page = context.new_page()
    page.set_default_timeout(60_000)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#add-keyframe")
    marks = {"page": time.perf_counter() - t0}
    page.wait_for_selector("#viser-frame", state="attached")
    marks["viewer"] = time.perf_counter() - t0
    live = None
    refused = 0
    deadline = t0 + 60
    while time.perf_counter() < deadline:
        live = live or next((s for s in registry.sessions() if id(s) not in before), None)
        if live is not None and "connected" not in marks and live.viewport.viewer_camera() is not None:
            marks["connected"] = time.perf_counter() - t0
        button = page.locator("#add-keyframe")
        if button.is_enabled():
            button.click()
            try:
                page.wait_for_function(
                    "() => (document.querySelector('#studio-notice')?.innerText || '').includes('keyframe 1 added')",
                    timeout=2000)
                marks["keyframe"] = time.perf_counter() - t0
                break
            except Exception:
                refused += 1
        else:
            time.sleep(0.05)
    marks.setdefault("connected", float("nan"))
    marks.setdefault("keyframe", float("nan"))
    marks["refused"] = refused
    page.close()
    return marks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tabs", type=int, default=4, help="fresh tabs to time, one after another")
    ap.add_argument("--cold-cache", action="store_true",
                    help="every tab in a new browser profile (an empty HTTP cache), not only the first")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from studio.app import launch
    from studio.config import StudioConfig

    port = _free_port()
    config = StudioConfig.from_env(port=port, viser_port=_free_port())
    demo, registry, service = launch(config, block=False, quiet=True)
    service.engine(timeout=300)
    url = f"http://127.0.0.1:{port}/"
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = None
            for i in range(args.tabs):
                if context is None or args.cold_cache:
                    if context is not None:
                        context.close()
                    context = browser.new_context(viewport={"width": 1600, "height": 1300})
                    cache = "cold"
                else:
                    cache = "warm"
                rows.append(one_tab(context, url, registry))
                r = rows[-1]
                r["cache"] = cache
                print(f"tab {i + 1} ({cache} HTTP cache): page {r['page']:.2f} s · viewer {r['viewer']:.2f} s · connected "
                      f"{r['connected']:.2f} s · first keyframe {r['keyframe']:.2f} s · refused clicks "
                      f"{r['refused']}", flush=True)
            browser.close()
    finally:
        registry.close_all()
        demo.close()
    print()
    for cache in ("cold", "warm"):
        first = [r["keyframe"] for r in rows if r["cache"] == cache]
        if not first:
            continue
        med = statistics.median(first)
        print(f"first keyframe accepted, {cache} HTTP cache, median of {len(first)} new tabs: {med:.2f} s; bound "
              f"{BOUND_S:.1f} s (issue 13): {med / BOUND_S:.2f}x -> {'met' if med <= BOUND_S else 'NOT met'}")
    print(f"clicks that did nothing before it (all tabs): {sum(r['refused'] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
