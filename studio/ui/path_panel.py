"""The "Path" tab: keyframes, numeric editing, presets, interpolation settings, import and export."""

from __future__ import annotations

import numpy as np
import gradio as gr

from .. import views
from ..path_io import EXPORT_FORMATS
from ..presets import DEFAULT_KEYFRAMES, FALLBACK_KEYFRAMES, LABELS, preset_fov, preset_names, preset_params
from ..session import keyframe_from_viewer
from .context import LiveSession
from .page import CONNECTING, Page

NUMERIC_SLOTS = 3


def build(page: Page) -> None:
    with gr.Row():
        page.add_kf_button = gr.Button(CONNECTING, variant="primary", elem_id="add-keyframe", interactive=False)
        page.goto_button = gr.Button("Go to", elem_id="goto-keyframe")
        page.delete_button = gr.Button("Delete", elem_id="delete-keyframe")
    with gr.Row():
        page.up_button = gr.Button("▲ Earlier", size="sm")
        page.down_button = gr.Button("▼ Later", size="sm")
        page.undo_button = gr.Button("↶ Undo", size="sm", elem_id="undo", interactive=False)
        page.redo_button = gr.Button("↷ Redo", size="sm", elem_id="redo", interactive=False)
        page.clear_button = gr.Button("Clear", size="sm", elem_id="clear-path")
    page.path_summary = gr.Markdown(elem_id="path-summary")
    page.keyframe_table = gr.Dataframe(headers=views.KEYFRAME_HEADERS, interactive=False, elem_id="keyframe-table",
                                       max_height=240, wrap=False, label="Keyframes (click a row to select)")
    with gr.Accordion("Selected keyframe: position, look-at, roll, FOV, timing", open=False):
        page.kf_index = gr.Number(label="keyframe #", precision=0, elem_id="kf-index", minimum=1)
        with gr.Row():
            page.kf_x, page.kf_y, page.kf_z = (gr.Number(label=f"position {a}", min_width=70) for a in "xyz")
        with gr.Row():
            page.kf_look_x, page.kf_look_y, page.kf_look_z = (gr.Number(label=f"look-at {a}", min_width=70)
                                                              for a in "xyz")
        with gr.Row():
            page.kf_roll = gr.Number(label="roll (degrees)", min_width=70)
            page.kf_fov = gr.Number(label="vertical FOV (degrees)", min_width=70)
            page.kf_duration = gr.Number(label="seconds to next keyframe", min_width=70)
        page.kf_apply = gr.Button("Apply numbers", elem_id="apply-keyframe")
    with gr.Accordion("Presets around a look-at point", open=True):
        names = preset_names()
        page.preset_name = gr.Dropdown(choices=[(LABELS.get(n, n), n) for n in names], value="orbit", label="move",
                                       elem_id="preset-name")
        first = _initial_form("orbit")
        page.preset_direction = gr.Dropdown(label="direction", elem_id="preset-direction", **first[0])
        with gr.Row():
            page.preset_values = [gr.Number(min_width=90, **first[1 + i]) for i in range(NUMERIC_SLOTS)]
        with gr.Row():
            page.preset_count = gr.Number(label="keyframes", value=DEFAULT_KEYFRAMES["orbit"], precision=0, minimum=2,
                                          maximum=64, min_width=80)
            page.preset_seconds = gr.Number(label="duration (s)", value=4.0, minimum=0.01, min_width=80)
            page.preset_fov = gr.Number(label=f"vertical FOV ° (0 = the preset's own, {preset_fov('orbit'):g})",
                                        value=0, minimum=0, maximum=179, min_width=80, elem_id="preset-fov")
        page.preset_mode = gr.Radio([("Replace the path", "replace"), ("Insert after selected keyframe", "insert")],
                                    value="replace", label="use as")
        with gr.Row():
            page.look_x, page.look_y, page.look_z = (gr.Number(label=f"look-at {a}", min_width=70,
                                                               elem_id=f"look-at-{a}") for a in "xyz")
        with gr.Row():
            page.pick_button = gr.Button("Pick look-at in the 3D view", size="sm", elem_id="pick-look-at")
            page.set_look_button = gr.Button("Set look-at", size="sm")
        page.preset_apply = gr.Button("Apply preset", variant="primary", elem_id="apply-preset")
    with gr.Accordion("Interpolation", open=False):
        page.frames_slider = gr.Slider(5, 49, step=4, value=9, label="frames (the model takes 1 + 4k)",
                                       info="The model's native frame count appears once the engine has loaded.",
                                       elem_id="num-frames")
        with gr.Row():
            page.fps = gr.Number(label="fps", value=8.0, minimum=0.1, maximum=120, min_width=80)
            page.tension = gr.Slider(-1, 1, step=0.05, value=0.0, label="tension (0 = Catmull-Rom, 1 = stop at keys)")
        with gr.Row():
            page.loop = gr.Checkbox(label="loop (closed path)")
            page.constant_speed = gr.Checkbox(label="constant speed")
    with gr.Accordion("Import / export", open=False):
        page.import_file = gr.File(label="Import a path: trajectory .json, camera_path.json, transforms.json or "
                                         "RealEstate10K .txt", file_count="single", elem_id="import-path")
        with gr.Row():
            page.export_format = gr.Dropdown(choices=[(d, k) for k, (d, _) in EXPORT_FORMATS.items()],
                                             value="trajectory", label="export as", scale=3)
            page.export_button = gr.Button("Export", scale=1, elem_id="export-path")
        page.export_file = gr.File(label="exported path", interactive=False, elem_id="export-file", visible=False)


# ---- actions (live, *inputs) -> message ------------------------------------------------------------------

def add_from_view(live: LiveSession) -> str:
    cam = live.viewport.viewer_camera()
    if cam is None:
        raise ValueError("the 3D view has not connected yet; wait until it shows the scene")
    kf = keyframe_from_viewer(cam[0][:3, 3], _wxyz(cam[0]), cam[1])
    path = live.session.path
    for i, other in enumerate(path.keyframes):
        if np.allclose(other.c2w.numpy(), kf.c2w.numpy(), atol=1e-6):
            raise ValueError(f"the view is where keyframe {i + 1} already is: move the view first (drag in the 3D view)")
    i = path.add(kf)
    return f"keyframe {i + 1} added from the view ({len(path)} in the path)"


def _wxyz(c2w: np.ndarray) -> np.ndarray:
    from ..viewport import pose_to_viser

    return pose_to_viser(c2w)[0]


def go_to(live: LiveSession) -> str:
    p = live.session.path
    if p.selected is None:
        raise ValueError("select a keyframe first")
    kf = p.keyframes[p.selected]
    live.viewport.go_to(kf.c2w.numpy(), kf.fov_y_deg)
    return f"the view now looks through keyframe {p.selected + 1}"


def select(live: LiveSession, index) -> str | None:
    if index is None:
        return None
    live.session.path.select(int(index) - 1)
    return None


def apply_numbers(live: LiveSession, x, y, z, lx, ly, lz, roll, fov, duration) -> str:
    p = live.session.path
    if p.selected is None:
        raise ValueError("select a keyframe first")
    if any(v is None for v in (x, y, z, lx, ly, lz)):
        raise ValueError("fill in the position and look-at fields")
    p.edit(position=[x, y, z], look_at=[lx, ly, lz], roll_deg=roll or 0.0, fov_y_deg=fov,
           duration=duration if duration not in (None, 0) else None)
    return f"keyframe {p.selected + 1} updated"


def _initial_form(name: str) -> list[dict]:
    """Constructor arguments matching ``preset_form`` for the preset shown first."""
    params = preset_params(name)
    direction = next((p for p in params if p.choices), None)
    numbers = [p for p in params if not p.choices]
    out = [{"visible": direction is not None, "choices": list(direction.choices) if direction else [],
            "value": direction.default if direction else None}]
    for i in range(NUMERIC_SLOTS):
        out.append({"visible": i < len(numbers), "label": numbers[i].label if i < len(numbers) else "parameter",
                    "value": numbers[i].default if i < len(numbers) else None})
    return out


def preset_form(name: str) -> list:
    """Updates for the direction dropdown, the numeric slots and the keyframe count of a preset."""
    params = preset_params(name)
    direction = next((p for p in params if p.choices), None)
    numbers = [p for p in params if not p.choices]
    out = [gr.update(visible=direction is not None, choices=list(direction.choices) if direction else [],
                     value=direction.default if direction else None)]
    for i in range(NUMERIC_SLOTS):
        if i < len(numbers):
            p = numbers[i]
            out.append(gr.update(visible=True, label=p.label, value=p.default))
        else:
            out.append(gr.update(visible=False, value=None))
    out.append(DEFAULT_KEYFRAMES.get(name, FALLBACK_KEYFRAMES))
    out.append(gr.update(label=f"vertical FOV ° (0 = the preset's own, {preset_fov(name):g})"))
    return out


def apply_preset(live: LiveSession, name, direction, v1, v2, v3, count, seconds, fov, mode, lx, ly, lz) -> str | None:
    s = live.session
    if None not in (lx, ly, lz):
        s.set_look_at([lx, ly, lz])
    params = {}
    numbers = [p for p in preset_params(name) if not p.choices]
    for p, v in zip(numbers, (v1, v2, v3)):
        params[p.name] = v
    if any(p.choices for p in preset_params(name)):
        params[next(p.name for p in preset_params(name) if p.choices)] = direction
    cam = live.viewport.viewer_camera()
    return s.apply_preset(name, params, mode=mode, count=int(count) if count else None, seconds=float(seconds or 4.0),
                          viewport_c2w=None if cam is None else cam[0], fov_y_deg=float(fov) if fov else None)


def set_look_at(live: LiveSession, x, y, z) -> str:
    if None in (x, y, z):
        raise ValueError("fill in x, y and z")
    live.session.set_look_at([x, y, z])
    return f"look-at point set to ({x:g}, {y:g}, {z:g})"


def start_pick(live: LiveSession) -> str:
    live.viewport.start_pick()
    live.session.info("click a point in the 3D view: it becomes the look-at point for presets")
    return None


def settings(live: LiveSession, frames, fps, tension, loop, constant_speed) -> None:
    live.session.path.set_settings(num_frames=int(frames), fps=float(fps or 8.0), tension=float(tension),
                                   loop=bool(loop), constant_speed=bool(constant_speed))
    return None


def import_file(live: LiveSession, file) -> str | None:
    if file is None:
        return None
    return live.session.import_path_file(file)


def wire(page: Page) -> None:
    out = page.path_outputs()
    a = page.action
    # Each click is its own edit: a click made while the previous one is still being handled (a busy
    # machine) is queued, not dropped as Gradio's default trigger mode ("once") would.
    every = dict(trigger_mode="multiple")
    page.add_kf_button.click(a(add_from_view, 0, what="add keyframe"), None, out, **every)
    page.goto_button.click(a(go_to, 0, what="go to keyframe"), None, out)
    page.delete_button.click(a(lambda live: _delete(live), 0, what="delete keyframe"), None, out, **every)
    page.up_button.click(a(lambda live: _move(live, -1), 0, what="reorder"), None, out, **every)
    page.down_button.click(a(lambda live: _move(live, +1), 0, what="reorder"), None, out, **every)
    page.undo_button.click(a(lambda live: "undone" if live.session.path.undo() else "nothing to undo", 0,
                             what="undo"), None, out, **every)
    page.redo_button.click(a(lambda live: "redone" if live.session.path.redo() else "nothing to redo", 0,
                             what="redo"), None, out, **every)
    page.clear_button.click(a(lambda live: (live.session.path.clear(), "path cleared (undo brings it back)")[1], 0,
                              what="clear"), None, out)
    page.kf_index.submit(a(select, 1, what="select keyframe"), [page.kf_index], out)

    def on_row(evt: gr.SelectData, request: gr.Request):
        return a(select, 1, what="select keyframe")(evt.index[0] + 1, request)

    page.keyframe_table.select(on_row, None, out)
    page.kf_apply.click(a(apply_numbers, 9, what="edit keyframe"),
                        [page.kf_x, page.kf_y, page.kf_z, page.kf_look_x, page.kf_look_y, page.kf_look_z,
                         page.kf_roll, page.kf_fov, page.kf_duration], out)
    page.preset_name.change(preset_form, [page.preset_name],
                            [page.preset_direction, *page.preset_values, page.preset_count, page.preset_fov])
    page.preset_apply.click(a(_framed(apply_preset), 12, what="preset"),
                            [page.preset_name, page.preset_direction, *page.preset_values, page.preset_count,
                             page.preset_seconds, page.preset_fov, page.preset_mode, page.look_x, page.look_y,
                             page.look_z], out)
    page.set_look_button.click(a(set_look_at, 3, what="look-at"), [page.look_x, page.look_y, page.look_z], out)
    page.pick_button.click(a(start_pick, 0, what="pick"), None, out)
    settings_inputs = [page.frames_slider, page.fps, page.tension, page.loop, page.constant_speed]
    handler = a(settings, 5, what="interpolation")
    last = {"trigger_mode": "always_last"}     # a change made while one is handled is not dropped
    page.frames_slider.release(handler, settings_inputs, out, **last)
    page.tension.release(handler, settings_inputs, out, **last)
    page.fps.submit(handler, settings_inputs, out)
    page.fps.blur(handler, settings_inputs, out)
    page.loop.input(handler, settings_inputs, out, **last)
    page.constant_speed.input(handler, settings_inputs, out, **last)
    page.wire_upload(page.import_file, _framed(import_file), what="import", outputs=out)

    def export(live: LiveSession, fmt):
        live.export_target = live.session.export_path_file(fmt)
        return f"exported {live.export_target.name} ({len(live.session.path.cameras())} cameras)"

    def render_export(live: LiveSession) -> dict:
        view = page.render_path(live)
        target = live.export_target
        view[page.export_file] = gr.update(value=str(target), visible=True) if target else gr.update()
        live.export_target = None
        return view

    page.export_button.click(a(export, 1, what="export", render=render_export), [page.export_format],
                             [*out, page.export_file])


def _framed(action):
    """The action, then the 3D view framed on the new path (presets and imports can land anywhere)."""
    def run(live: LiveSession, *inputs):
        msg = action(live, *inputs)
        live.viewport.frame_all()
        return msg
    return run


def _delete(live: LiveSession) -> str:
    p = live.session.path
    i = p.selected
    p.delete()
    return f"keyframe {i + 1} deleted (undo brings it back)"


def _move(live: LiveSession, offset: int) -> str:
    j = live.session.path.move(None, offset)
    return f"keyframe moved to place {j + 1}"
