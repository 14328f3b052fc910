"""The "Compare" tab: generated vs ground-truth frames side by side, PSNR/SSIM per frame, and the cycle run."""

from __future__ import annotations

import gradio as gr

from .. import views, workflows
from ..evaluation import GENERATION_BASELINE_NOTE
from .context import LiveSession
from .page import Page


def build(page: Page) -> None:
    page.cmp_info = gr.Markdown("Pick an example with ground truth (or upload a clip and its cameras on the "
                                "*Clip → cameras* tab), then generate along its ground-truth cameras from its first "
                                "frame and compare, or run the cycle test. The generated frames are scored beside two "
                                "answers: " + GENERATION_BASELINE_NOTE)
    page.cmp_steps = gr.Slider(1, 50, step=1, value=20, label="video denoising steps", elem_id="cmp-steps")
    with gr.Row():
        page.compare_button = gr.Button("Generate along ground truth & compare", variant="primary",
                                        elem_id="compare")
        page.cycle_button = gr.Button("Cycle self-consistency", elem_id="cycle")
        page.cmp_cancel = gr.Button("Cancel", variant="stop")
    page.cmp_progress = gr.Markdown(elem_id="cmp-progress")
    with gr.Row():
        page.cmp_which = gr.Radio([("generated vs ground truth", "compare"), ("cycle: regenerated vs original", "cycle")],
                                  value="compare", label="show")
        page.cmp_view = gr.Radio(list(views.COMPARISON_VIEWS), value="side by side", label="view",
                                 elem_id="cmp-view")
    page.cmp_frame = gr.Slider(1, 9, step=1, value=1, label="frame", elem_id="cmp-frame")
    page.cmp_image = gr.Image(interactive=False, show_label=False, elem_id="cmp-image", format="png", height=220)
    page.cmp_caption = gr.Markdown(elem_id="cmp-caption")
    page.cmp_video = gr.Video(label="synchronised playback: ground truth | generated", autoplay=True, loop=True,
                              interactive=False, height=240)
    page.cmp_plot = gr.Plot(show_label=False)
    page.cycle_table = gr.Dataframe(headers=["cycle self-consistency", "value"], interactive=False,
                                    elem_id="cycle-table")


def render_compare(page: Page, live: LiveSession, which: str, j: int, view: str) -> dict:
    cmp = views.comparison_of(live.session, which)
    n = len(cmp.generated) if cmp is not None else 2
    j = int(min(max(int(j or 1), 1), n))
    return {page.cmp_image: views.comparison_frame(cmp, j - 1, view=view),
            page.cmp_caption: views.comparison_caption(cmp, j - 1),
            page.cmp_frame: gr.update(maximum=max(n, 2), value=j),
            page.cmp_video: str(cmp.files[0]) if cmp is not None and cmp.files else None,
            page.cmp_plot: views.comparison_plot(cmp),
            page.cycle_table: views.cycle_table(live.session),
            page.notice: live.session.notice.markdown}


def wire(page: Page, service) -> None:
    outputs = [page.cmp_progress, page.cmp_image, page.cmp_caption, page.cmp_frame, page.cmp_video, page.cmp_plot,
               page.cycle_table, page.notice, page.cmp_which]

    def run(kind: str):
        def handler(steps, view, request: gr.Request):
            live = page.registry.get(request)
            s = live.session
            flow = (workflows.compare_with_ground_truth(s, service, steps=int(steps)) if kind == "compare"
                    else workflows.run_cycle(s, service, video_steps=int(steps)))
            for p in flow:
                update = {page.cmp_progress: p.text}
                if p.finished:
                    update.update(render_compare(page, live, kind, 1, view))
                    update[page.cmp_which] = kind
                yield update
        return handler

    page.compare_button.click(run("compare"), [page.cmp_steps, page.cmp_view], outputs, concurrency_limit=None)
    page.cycle_button.click(run("cycle"), [page.cmp_steps, page.cmp_view], outputs, concurrency_limit=None)
    page.cmp_cancel.click(page.action(lambda live: workflows.cancel(live.session), 0, what="cancel"), None,
                          page.path_outputs(), concurrency_limit=None)

    def show(which, j, view, request: gr.Request):
        return render_compare(page, page.registry.get(request), which, j, view)

    for trigger in (page.cmp_which.input, page.cmp_view.input, page.cmp_frame.input):
        trigger(show, [page.cmp_which, page.cmp_frame, page.cmp_view], outputs[1:], show_progress="hidden")
