"""The "Photos → video" tab: upload photos, generate along the path or jointly, stream frames, download."""

from __future__ import annotations

import gradio as gr

from .. import views, workflows
from ..media import strip
from .context import LiveSession
from .page import Page


def build(page: Page) -> None:
    # No file_types filter: the browser would refuse other files with a passing pop-up only; the server's
    # check puts the reason in the message line instead.
    page.photo_upload = gr.File(label="Photos (one or more: png, jpg, ...)", file_count="multiple",
                                elem_id="photo-upload")
    page.photo_preview = gr.Image(label="input photos", interactive=False, height=110, elem_id="photo-preview",
                                  format="png")
    page.photo_position = gr.Radio([("first frame", "first"), ("middle frame", "middle"), ("last frame", "last")],
                                   value="first", label="where the photo sits on the path", elem_id="photo-position")
    page.gen_mode = gr.Radio([("Along the drawn path (camera-conditioned)", "path"),
                              ("Joint: the model also makes up the camera path", "joint")], value="path", label="mode",
                             elem_id="gen-mode")
    with gr.Row():
        page.gen_steps = gr.Slider(1, 50, step=1, value=20, label="denoising steps", elem_id="gen-steps")
        page.gen_seed = gr.Number(value=0, precision=0, label="seed", min_width=80)
    with gr.Row():
        page.generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
        page.gen_cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-generate")
    page.gen_progress = gr.Markdown(elem_id="gen-progress")
    gr.Markdown("**Frames** as they are denoised", elem_classes=["caption"])
    page.live_frames = gr.Image(show_label=False, interactive=False, elem_id="live-frames", format="png", height=120)
    page.result_video = gr.Video(label="result", autoplay=True, loop=True, interactive=False, elem_id="result-video",
                                 height=300)
    page.gen_downloads = gr.File(label="downloads: MP4 and GIF of the model's frames, trajectory JSON, upscaled copy "
                                       "(plain resize: no added detail)", file_count="multiple",
                                 interactive=False, elem_id="gen-downloads", height=140)
    page.use_joint_path = gr.Button("Use the generated camera path as the path", size="sm")


def photos_view(live: LiveSession) -> object:
    s = live.session
    return strip(s.photos[:8], size=96) if s.photos else None


def wire(page: Page, service) -> None:
    a = page.action
    out = page.path_outputs()

    def with_photos(live: LiveSession) -> dict:
        view = page.render_path(live)
        view[page.photo_preview] = photos_view(live)
        return view

    def upload(live: LiveSession, files):
        if not files:
            live.session.set_photo_arrays([], [])
            return "photos removed"
        return live.session.set_photos(files)

    page.wire_upload(page.photo_upload, upload, what="photos", outputs=[*out, page.photo_preview], render=with_photos)
    page.photo_upload.clear(a(upload, 1, what="photos", render=with_photos), [page.photo_upload],
                            [*out, page.photo_preview])
    page.photo_position.input(a(lambda live, v: live.session.set_photo_position(v), 1, what="photo position"),
                              [page.photo_position], out, trigger_mode="always_last")

    outputs = [page.gen_progress, page.live_frames, page.result_video, page.gen_downloads, page.generate_button, *out]

    def run(mode, steps, seed, request: gr.Request):
        live = page.registry.get(request)
        s = live.session
        yield {page.generate_button: gr.update(interactive=False), page.gen_progress: "▸ submitting…"}
        for p in workflows.generate_video(s, service, joint=mode == "joint", steps=int(steps), seed=int(seed or 0)):
            update = {page.gen_progress: p.text}
            if p.frames is not None:
                update[page.live_frames] = views.frames_strip(p.frames)
            if p.finished:
                update.update(page.render_path(live))
                update[page.generate_button] = gr.update(interactive=True)
                if p.ok and s.generation is not None and s.generation.mode == "joint":
                    live.viewport.frame_all()
                if p.ok and s.generation is not None:
                    files = [str(f) for f in s.generation.files]
                    update[page.result_video] = gr.update(value=files[0], label=views.result_video_label(s))
                    update[page.gen_downloads] = files
            yield update

    page.generate_button.click(run, [page.gen_mode, page.gen_steps, page.gen_seed], outputs, concurrency_limit=None)
    page.gen_cancel.click(a(lambda live: workflows.cancel(live.session), 0, what="cancel"), None, out,
                          concurrency_limit=None)

    def use_path(live: LiveSession) -> str:
        gen = live.session.generation
        if gen is None:
            raise ValueError("generate something first")
        return live.session.path_from_cameras(gen.cameras, "the generated camera path")

    page.use_joint_path.click(a(use_path, 0, what="use path"), None, out)
