"""``Page``: the page's components (set by the panel builders) and the updates that show a session's state."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

import gradio as gr

from .. import views
from ..camera_path import PathError
from ..uploads import upload_paths
from .context import LiveSession, SessionRegistry

log = logging.getLogger(__name__)

ADD_KEYFRAME = "Add keyframe from view"
CONNECTING = "Connecting the 3D view…"


class Page:
    """Holds components by name (``page.notice``, ``page.keyframe_table``, ...) and renders updates."""

    def __init__(self, registry: SessionRegistry):
        self.registry = registry

    # ---- what every path edit refreshes ---------------------------------------------------------------

    def path_outputs(self) -> list[gr.components.Component]:
        return [self.add_kf_button, self.notice, self.path_summary, self.keyframe_table, self.scrubber, self.frame_info,
                self.trajectory_plot, self.raxel_image, self.kf_index, self.kf_x, self.kf_y, self.kf_z,
                self.kf_look_x, self.kf_look_y, self.kf_look_z, self.kf_roll, self.kf_fov, self.kf_duration,
                self.look_x, self.look_y, self.look_z, self.undo_button, self.redo_button,
                self.frames_slider, self.fps, self.tension, self.loop, self.constant_speed]

    def render_path(self, live: LiveSession) -> dict:
        s = live.session
        p = s.path
        cams = p.try_cameras()
        n = len(cams) if cams is not None else 1
        s.preview_frame = min(s.preview_frame, n - 1)
        ed = views.keyframe_editor(s)
        st = p.settings
        out = {
            self.add_kf_button: self.add_keyframe_state(live),
            self.notice: s.notice.markdown,
            self.path_summary: views.path_summary(s),
            self.keyframe_table: views.keyframe_rows(s),
            self.scrubber: gr.update(maximum=max(n, 2), value=s.preview_frame + 1, interactive=cams is not None),
            self.frame_info: views.frame_info(s, s.preview_frame),
            self.trajectory_plot: views.trajectory_plot(s),
            self.raxel_image: views.raxel_preview(s),
            self.kf_index: ed.get("index"),
            self.undo_button: gr.update(interactive=p.can_undo),
            self.redo_button: gr.update(interactive=p.can_redo),
            self.frames_slider: gr.update(value=st.num_frames, info=views.frame_count_hint(s)), self.fps: st.fps, self.tension: st.tension, self.loop: st.loop,
            self.constant_speed: st.constant_speed,
            self.look_x: round(float(s.look_at_point[0]), 4), self.look_y: round(float(s.look_at_point[1]), 4),
            self.look_z: round(float(s.look_at_point[2]), 4),
        }
        for key in ("x", "y", "z", "look_x", "look_y", "look_z", "roll", "fov", "duration"):
            value = ed.get(key)
            out[getattr(self, f"kf_{key}")] = None if value is None else round(float(value), 4)
        live.shown_revision = s.revision
        live.shown_notice = s.notice.markdown
        return out

    @staticmethod
    def add_keyframe_state(live: LiveSession) -> dict:
        """"Add keyframe from view" works only once the tab's 3D view has connected and sent its camera;
        until then the button says so and takes no clicks."""
        live.shown_ready = ready = live.viewport.ready
        return gr.update(value=ADD_KEYFRAME if ready else CONNECTING, interactive=ready)

    def wire_upload(self, component: gr.components.Component, fn: Callable[..., str | None], *, what: str,
                    outputs: list[gr.components.Component],
                    render: Callable[[LiveSession], dict] | None = None):
        """Wire ``component.upload`` to the action ``fn(live, files)``; returns the dependency (for ``.then``).

        The box is never written by the studio: a refused file stays in it and the message line says why.
        (Clearing it from the server raced with the next file under load: Gradio rebuilt the box while the
        user's next file was arriving, and that file was lost.) A multi-file box adds new files to the ones
        it shows, so files once refused are left out of later uploads to the same box (sent alone again,
        they are refused again). "multiple": a file dropped while the previous upload is still handled is
        queued with its own files, not dropped (Gradio's default "once")."""
        upload = skipping_refused(fn, component.elem_id or str(id(component)))
        return component.upload(self.action(upload, 1, what=what, render=render), [component], outputs,
                                trigger_mode="multiple")

    # ---- handler factory ------------------------------------------------------------------------------

    def action(self, fn: Callable[..., str | None], n_inputs: int, *, what: str,
               render: Callable[[LiveSession], dict] | None = None) -> Callable:
        """A Gradio handler for ``fn(live, *inputs) -> message``: errors become the notice (state kept),
        then ``render`` (default: the path view) refreshes the page."""
        render = render or self.render_path

        def handler(*args: Any) -> dict:
            *inputs, request = args
            live = self.registry.get(request)
            live.session.clear_error()      # the message line shows this action's outcome, not an old error
            try:
                msg = fn(live, *inputs)
            except (ValueError, PathError) as exc:
                live.session.error(f"{what}: {exc}")
            except Exception as exc:  # a bug must not take the page down; say what happened
                log.exception("%s failed", what)
                live.session.error(f"{what} failed unexpectedly: {type(exc).__name__}: {exc}")
            else:
                if msg:
                    live.session.ok(msg)
            return render(live)

        params = [inspect.Parameter(f"input_{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(n_inputs)]
        params.append(inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request))
        handler.__signature__ = inspect.Signature(params)
        handler.__annotations__ = {"request": gr.Request}   # how Gradio finds where to pass the request
        handler.__name__ = f"on_{what.replace(' ', '_')}"
        return handler


def skipping_refused(fn: Callable[..., str | None], key: str) -> Callable[..., str | None]:
    """``fn(live, files)`` for upload box ``key``, leaving out files the box had refused before (a multi-file
    box sends them again with every new file). Files sent alone are passed on even if refused before."""
    def upload(live: LiveSession, files) -> str | None:
        paths = [str(p) for p in upload_paths(files)]
        refused = live.refused_uploads.setdefault(key, set())
        fresh = [p for p in paths if p not in refused] or paths
        try:
            return fn(live, fresh if isinstance(files, (list, tuple)) else files)
        except (ValueError, PathError):         # refused (a bug's exception does not mark the files)
            refused.update(fresh)
            raise
    return upload

