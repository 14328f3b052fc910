"""A new tab says "Connecting the 3D view…" and takes no keyframe clicks until its 3D view has connected;
then the first click adds a keyframe (issue 13). The time this takes is a benchmark
(``benchmarks/studio_ready.py``), not asserted here."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from studio_helpers import wait_for

pytestmark = pytest.mark.browser


def test_add_keyframe_waits_for_the_3d_view_then_works(browser, studio_app, shot):
    url, registry, _ = studio_app
    context = browser.new_context(viewport={"width": 1600, "height": 1300})
    # Hold the tab's 3D view back: every request to a Viser server (any port but the studio's) fails.
    studio = urlsplit(url).port

    def blocked(route):
        if urlsplit(route.request.url).port == studio:
            route.continue_()
        else:
            route.abort()
    context.route("**/*", blocked)
    page = context.new_page()
    try:
        before = {id(live) for live in registry.sessions()}
        page.goto(url)
        # (Playwright waits, not polling: routed requests are only served while Playwright waits.)
        page.locator("#viser-frame").wait_for(state="attached")     # on_load rendered the session's state
        live = next(s for s in registry.sessions() if id(s) not in before)
        button = page.locator("#add-keyframe")
        page.wait_for_function("() => document.querySelector('#add-keyframe')?.innerText.includes('Connecting')")
        assert button.is_disabled()
        assert not live.viewport.ready and len(live.session.path) == 0
        shot(page, "13_connecting_the_3d_view")

        # Let the view load: the button turns into "Add keyframe from view" by itself and its first click works.
        context.unroute("**/*")
        page.evaluate("() => { const f = document.querySelector('#viser-frame'); f.src = f.src; }")
        page.wait_for_function("() => { const b = document.querySelector('#add-keyframe');"
                               " return !b.disabled && b.innerText.includes('Add keyframe from view'); }")
        assert live.viewport.ready
        button.click()
        wait_for(lambda: len(live.session.path) == 1, what="the first keyframe")
        wait_for(lambda: "keyframe 1 added" in page.locator("#studio-notice").inner_text(), what="its notice")
    finally:
        context.close()
