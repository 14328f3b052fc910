"""The page: title and status, examples, the 3D view with its scrubber and plots, and the four task tabs."""

from __future__ import annotations

import gradio as gr

from ..config import StudioConfig
from ..engine_service import EngineService
from .. import views
from ..gallery import discover_examples
from ..viewport import LEGEND
from . import clip_panel, compare_panel, gallery_panel, generate_panel, path_panel
from .context import LiveSession, SessionRegistry
from .page import Page

TITLE = ("## raxel-studio · draw a camera path, make novel-view video, recover camera poses\n"
         "Joint video and camera generation with *Rays as Pixels*: cameras are raxel images the model sees "
         "like pixels. Everything runs locally.")

CSS = """
#studio-notice { min-height: 2.2em; }
.notice { padding: 6px 12px; border-radius: 6px; font-size: 0.95em; }
.notice-info { background: #eef2ff; color: #25306b; }
.notice-ok { background: #e8f7ee; color: #145a32; }
.notice-warning { background: #fff6e0; color: #7a4b00; }
.notice-error { background: #fdeaea; color: #8b1a1a; font-weight: 600; }
#engine-status { font-size: 0.85em; }
#live-frames img, #clip-frames img, #cmp-image img, #photo-preview img { image-rendering: pixelated; }
#legend { font-size: 0.8em; color: #555; }
.caption { font-size: 0.85em; }
.gradio-container { max-width: 1600px !important; }
"""

THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "monospace"])


def build_app(config: StudioConfig, service: EngineService) -> tuple[gr.Blocks, SessionRegistry]:
    registry = SessionRegistry(config, service)
    page = Page(registry)
    examples = discover_examples(config)
    with gr.Blocks(title="raxel-studio", analytics_enabled=False) as demo:
        gr.Markdown(TITLE)
        page.status = gr.Markdown(service.status_markdown(), elem_id="engine-status")
        page.notice = gr.Markdown(elem_id="studio-notice")
        gallery_panel.build(page, examples)
        with gr.Row(equal_height=False):
            with gr.Column(scale=6):
                page.viewer = gr.HTML("<div style='height:560px'>Starting the 3D view…</div>", elem_id="viewer")
                gr.Markdown(LEGEND, elem_id="legend")
                page.scrubber = gr.Slider(1, 9, step=1, value=1, label="preview frame: the green camera, exactly "
                                          "the cameras sent to the engine", elem_id="scrubber", interactive=False)
                with gr.Row():
                    page.play_button = gr.Button("Play", size="sm", elem_id="play")
                    page.pause_button = gr.Button("Pause", size="sm", elem_id="pause")
                    page.frame_button = gr.Button("Frame all", size="sm", elem_id="frame-all")
                    page.look_through = gr.Checkbox(label="look through the preview camera", elem_id="look-through")
                page.frame_info = gr.Markdown(elem_id="frame-info")
                gr.Markdown("**Trajectory** of the frames sent to the engine (and of predictions): top view and height",
                            elem_classes=["caption"])
                page.trajectory_plot = gr.Plot(show_label=False, elem_id="trajectory-plot")
                gr.Markdown("**Raxel images** of the path: what the model is conditioned on (ray direction + "
                            "origin per pixel as colour; the photo's frame is the bare ray bundle)",
                            elem_classes=["caption"])
                page.raxel_image = gr.Image(show_label=False, interactive=False, elem_id="raxel-strip", format="png",
                                            height=120)
            with gr.Column(scale=5):
                with gr.Tabs() as page.tabs:
                    with gr.Tab("Path", id="path"):
                        path_panel.build(page)
                    with gr.Tab("Photos → video", id="generate"):
                        generate_panel.build(page)
                    with gr.Tab("Clip → cameras", id="clip"):
                        clip_panel.build(page)
                    with gr.Tab("Compare", id="compare"):
                        compare_panel.build(page)
        page.timer = gr.Timer(config.sync_interval_s)

        path_panel.wire(page)
        generate_panel.wire(page, service)
        clip_panel.wire(page, service)
        compare_panel.wire(page, service)
        gallery_panel.wire(page, service)
        _wire_viewer(demo, page, registry, service)
    return demo, registry


def _wire_viewer(demo: gr.Blocks, page: Page, registry: SessionRegistry, service: EngineService) -> None:
    out = page.path_outputs()

    def fit_to_engine(live: LiveSession) -> None:
        if service.ready:
            w, h, n = service.frame_size()
            live.session.path.resize(w, h)
            if live.session.model_frames != n:
                live.session.model_frames = n
                live.session.notify("path")     # the frame-count hint names it

    def on_load(request: gr.Request):
        live = registry.get(request)
        fit_to_engine(live)
        view = page.render_path(live)
        view[page.viewer] = live.viewport.iframe_html(page_host=request.headers.get("host"))
        view[page.status] = live.shown_status = service.status_markdown()
        return view

    # The page's first render happens on load: the session and its Viser server are made here,
    # and stopped when the tab closes.
    demo.load(on_load, None, [page.viewer, page.status, *out])

    def on_unload(request: gr.Request) -> None:
        registry.close(request.session_hash or "anonymous")

    demo.unload(on_unload)

    def on_tick(request: gr.Request):
        live = registry.find(request.session_hash or "anonymous")
        nothing = {page.status: gr.skip()}      # (an empty dict would read as one value)
        if live is None:
            return nothing
        update = {}
        if not live.session.closed:
            fit_to_engine(live)
        if live.shown_ready is False:
            # Until the 3D view connects, each tick waits (briefly) for it, so the page enables
            # "Add keyframe" as soon as it can work rather than up to a tick later.
            live.viewport.wait_ready(0.8 * registry.config.sync_interval_s)
        if live.shown_ready != live.viewport.ready:
            update[page.add_kf_button] = page.add_keyframe_state(live)
        if live.session.revision != live.shown_revision:
            update.update(page.render_path(live))
        elif live.session.notice.markdown != live.shown_notice:
            update[page.notice] = live.shown_notice = live.session.notice.markdown
        if live.viewport.playing:
            j = live.session.preview_frame
            update[page.scrubber] = j + 1
            update[page.frame_info] = views.frame_info(live.session, j)
        if live.shown_status != service.status_markdown():      # the engine finished loading
            update[page.status] = live.shown_status = service.status_markdown()
        return update or nothing

    page.timer.tick(on_tick, None, [page.status, *out], show_progress="hidden", queue=False)

    def scrub(live: LiveSession, j):
        live.viewport.pause()
        live.viewport.set_preview_frame(int(j) - 1)
        return None

    a = page.action

    def frame_view(live: LiveSession) -> dict:
        return {page.frame_info: views.frame_info(live.session, live.session.preview_frame),
                page.notice: live.session.notice.markdown}

    # Toggles and sliders: "always_last", so a second change made while the first is still being
    # handled is not dropped (Gradio's default "once" ignored it; the final state must win).
    page.scrubber.input(a(scrub, 1, what="preview", render=frame_view), [page.scrubber],
                        [page.frame_info, page.notice], show_progress="hidden", trigger_mode="always_last")
    page.play_button.click(a(lambda live: live.viewport.play(), 0, what="play"), None, out)
    page.pause_button.click(a(lambda live: live.viewport.pause(), 0, what="pause"), None, out)

    def look_through(live: LiveSession, on):
        live.viewport.set_look_through(bool(on))
        return "the 3D view now looks through the preview camera" if on else None

    def frame_all(live: LiveSession):
        live.viewport.frame_all()
        return None

    page.frame_button.click(a(frame_all, 0, what="frame all", render=frame_view), None,
                            [page.frame_info, page.notice])
    page.look_through.input(a(look_through, 1, what="look through"), [page.look_through], out,
                            trigger_mode="always_last")
