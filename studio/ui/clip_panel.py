"""The "Clip → cameras" tab: upload a clip (and optional ground truth), predict its cameras, score them."""

from __future__ import annotations

import gradio as gr
import numpy as np

from .. import views, workflows
from ..evaluation import COMPARISON_HEADERS, METHODS
from ..media import strip
from .context import LiveSession
from .page import Page

COLMAP_NOTE = "" if workflows.colmap_available() else " (not installed)"
# Radio label -> method: the baselines say they are baselines.
METHOD_CHOICES = [(METHODS[m] + (COLMAP_NOTE if m == "colmap" else ""), m) for m in METHODS]


def build(page: Page) -> None:
    page.clip_upload = gr.File(label="Clip: one mp4 / gif, or several frames", file_count="multiple",
                               elem_id="clip-upload")
    page.gt_upload = gr.File(label="Ground-truth cameras (optional): trajectory / camera_path / transforms .json, "
                                   "RealEstate10K .txt, or COLMAP cameras.txt + images.txt", file_count="multiple",
                             elem_id="gt-upload")
    page.est_steps = gr.Slider(1, 20, step=1, value=2, label="ray denoising steps (the paper finds 2 best)",
                               elem_id="est-steps")
    page.est_method = gr.Radio(METHOD_CHOICES, value="raxels", label="method (each result is kept beside the "
                               "others': one colour per method in the 3D view)", elem_id="est-method")
    with gr.Row():
        page.estimate_button = gr.Button("Predict cameras", variant="primary", elem_id="estimate")
        page.estimate_all_button = gr.Button("Run every method", elem_id="estimate-all")
        page.est_cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-estimate")
    page.est_progress = gr.Markdown(elem_id="est-progress")
    page.est_comparison = gr.Dataframe(headers=COMPARISON_HEADERS, interactive=False, elem_id="est-comparison",
                                       wrap=True, show_label=False)
    page.est_comparison_note = gr.Markdown(elem_id="est-comparison-note", elem_classes=["caption"])
    gr.Markdown("**The clip's frames** (one camera each)", elem_classes=["caption"])
    page.clip_frames = gr.Image(show_label=False, interactive=False, elem_id="clip-frames", format="png", height=170)
    page.est_table = gr.Dataframe(headers=["", "value"], interactive=False, elem_id="est-metrics", wrap=True,
                                  column_widths=["58%", "42%"], show_label=False)
    page.est_plot = gr.Plot(show_label=False, elem_id="est-plot")
    page.est_downloads = gr.File(label="predicted trajectory", file_count="multiple", interactive=False, height=80)
    page.use_est_path = gr.Button("Use the predicted trajectory as the path", size="sm")


def clip_strip(live: LiveSession) -> np.ndarray | None:
    s = live.session
    if s.estimate is not None:
        return strip(s.estimate.frames, size=72, per_row=8)
    if s.clip is not None:
        ids = np.round(np.linspace(0, s.clip.num_frames - 1, min(s.clip.num_frames, 9))).astype(int)
        return strip(s.clip.frames[ids], size=72, per_row=5)
    return None


def render_clip(page: Page, live: LiveSession) -> dict:
    view = page.render_path(live)
    est = live.session.estimate
    view[page.clip_frames] = clip_strip(live)
    view[page.est_table] = views.estimate_table(live.session)
    view[page.est_comparison] = views.estimate_comparison(live.session)
    view[page.est_comparison_note] = views.estimate_comparison_note(live.session)
    view[page.est_plot] = views.estimate_error_plot(live.session)
    view[page.est_downloads] = [str(f) for f in est.files] if est is not None else None
    return view


def clip_outputs(page: Page) -> list:
    return [*page.path_outputs(), page.clip_frames, page.est_table, page.est_comparison, page.est_comparison_note,
            page.est_plot, page.est_downloads]


def estimation_stream(page: Page, service, live: LiveSession, *, steps: int, method: str):
    """Generator of page updates for one estimation run (``method`` "all": every method not yet run)."""
    s = live.session
    flow = (workflows.estimate_all(s, service, steps=int(steps)) if method == "all"
            else workflows.estimate_clip(s, service, steps=int(steps), method=method))
    for p in flow:
        update = {page.est_progress: p.text}
        if p.finished:
            if p.ok:
                live.viewport.frame_all()
            update.update(render_clip(page, live))
        yield update


def auto_estimate_handler(page: Page, service):
    """A handler that predicts the loaded clip's cameras if an upload or an example asked for it."""
    def auto_estimate(steps, request: gr.Request):
        live = page.registry.get(request)
        if not live.estimate_requested:
            yield {page.est_progress: gr.skip()}   # nothing to do (a generator that yields nothing blanks outputs)
            return
        live.estimate_requested = False
        yield from estimation_stream(page, service, live, steps=steps, method="raxels")
    return auto_estimate


def wire(page: Page, service) -> None:
    a = page.action
    outs = clip_outputs(page)

    def render(live: LiveSession) -> dict:
        return render_clip(page, live)

    def upload_clip(live: LiveSession, files):
        if not files:
            return None
        msg = live.session.set_clip(files)
        live.estimate_requested = True
        return msg + "; predicting its cameras…"

    def upload_gt(live: LiveSession, files):
        if not files:
            return None
        msg = live.session.set_ground_truth(files)
        if live.session.rescore_estimate():
            msg += "; the prediction is scored against it"
        return msg

    auto_estimate = auto_estimate_handler(page, service)

    est_outputs = [page.est_progress, *outs]
    page.wire_upload(page.clip_upload, upload_clip, what="clip", outputs=outs, render=render).then(
        auto_estimate, [page.est_steps], est_outputs, concurrency_limit=None)
    page.wire_upload(page.gt_upload, upload_gt, what="ground truth", outputs=outs, render=render)

    def run_chosen(steps, method, request: gr.Request):
        live = page.registry.get(request)
        yield from estimation_stream(page, service, live, steps=steps, method=method)

    def run_all(steps, request: gr.Request):
        live = page.registry.get(request)
        yield from estimation_stream(page, service, live, steps=steps, method="all")

    page.estimate_button.click(run_chosen, [page.est_steps, page.est_method], est_outputs, concurrency_limit=None)
    page.estimate_all_button.click(run_all, [page.est_steps], est_outputs, concurrency_limit=None)
    page.est_cancel.click(a(lambda live: workflows.cancel(live.session), 0, what="cancel"), None, page.path_outputs(),
                          concurrency_limit=None)

    def use_path(live: LiveSession) -> str:
        est = live.session.estimate
        if est is None:
            raise ValueError("predict a clip's cameras first")
        cams = est.comparison.aligned if est.comparison is not None else est.cameras
        return live.session.path_from_cameras(cams, "the predicted trajectory")

    page.use_est_path.click(a(use_path, 0, what="use path"), None, page.path_outputs())
