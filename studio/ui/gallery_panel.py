"""The examples gallery: one click loads an example (clip, ground truth, scene, photo, path) and predicts its
cameras."""

from __future__ import annotations

import gradio as gr

from ..gallery import Example
from . import clip_panel
from .context import LiveSession
from .page import Page


def build(page: Page, examples: list[Example]) -> None:
    page.examples = examples
    if examples:
        page.gallery = gr.Gallery(value=[(e.thumbnail(), e.caption) for e in examples], columns=8, height=130,
                                  allow_preview=False, label="Examples: click one to load it (clip, ground truth, "
                                  "path) and predict its cameras", elem_id="examples", object_fit="cover")
    else:
        page.gallery = None
        gr.Markdown("No bundled examples were found (assets/scenes/ is empty and no RealEstate10K clips are "
                    "present): upload photos or a clip to start.", elem_id="examples-empty")


def wire(page: Page, service) -> None:
    if page.gallery is None:
        return
    from .generate_panel import photos_view

    outs = [*clip_panel.clip_outputs(page), page.photo_preview, page.tabs, page.clip_upload, page.gt_upload,
            page.photo_upload]

    def render(live: LiveSession) -> dict:
        view = clip_panel.render_clip(page, live)
        view[page.photo_preview] = photos_view(live)
        view[page.tabs] = gr.Tabs(selected="clip")     # show where its result appears
        if live.session.notice.level != "error":       # the example replaces what was uploaded before
            view[page.clip_upload] = view[page.gt_upload] = view[page.photo_upload] = None
        return view

    def load(evt: gr.SelectData, request: gr.Request):
        def action(live: LiveSession, index):
            example = page.examples[int(index)]
            msg = live.session.load_example(example)
            live.estimate_requested = live.session.clip is not None
            live.viewport.frame_all()
            return msg + ("; predicting its cameras…" if live.estimate_requested else "")
        return page.action(action, 1, what="example", render=render)(evt.index, request)

    auto_estimate = clip_panel.auto_estimate_handler(page, service)

    page.gallery.select(load, None, outs).then(auto_estimate, [page.est_steps],
                                               [page.est_progress, *clip_panel.clip_outputs(page)],
                                               concurrency_limit=None)
