"""How the page's events queue: under load a second click or file arrives while the first is still handled,
and Gradio's default trigger mode ("once") drops it. Edits that count each click, and uploads, must queue."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from studio.app import create
from studio.config import StudioConfig
from studio.engine_service import EngineService


@pytest.fixture(scope="module")
def modes():
    service = EngineService(loader=lambda: None)        # the page's wiring needs no model
    demo, registry, _ = create(StudioConfig(), service=service)
    try:
        out = {}
        for fn in demo.fns.values():
            for block_id, event in fn.targets:
                block = demo.blocks.get(block_id)
                if block is not None and getattr(block, "elem_id", None):
                    out[(block.elem_id, event)] = fn.trigger_mode
        yield out
    finally:
        registry.close_all()
        service.queue.shutdown()


@pytest.mark.parametrize("elem_id", ["add-keyframe", "delete-keyframe", "undo", "redo"])
def test_every_click_of_a_repeatable_edit_counts(modes, elem_id):
    assert modes[(elem_id, "click")] == "multiple"


@pytest.mark.parametrize("elem_id", ["photo-upload", "clip-upload", "gt-upload", "import-path"])
def test_a_file_dropped_while_the_last_is_handled_is_queued(modes, elem_id):
    assert modes[(elem_id, "upload")] == "multiple"


def test_a_toggle_ends_in_its_last_state(modes):
    assert modes[("look-through", "input")] == "always_last"


def test_a_multi_file_box_leaves_out_the_files_it_refused():
    from studio.ui.page import skipping_refused

    seen = []

    def use(live, files):
        seen.append(list(files))
        if any(f.endswith(".txt") for f in files):
            raise ValueError("notes.txt: unsupported")
        return "ok"

    upload = skipping_refused(use, "photo-upload")
    live = SimpleNamespace(refused_uploads={})
    with pytest.raises(ValueError):
        upload(live, ["/tmp/a/notes.txt"])
    assert upload(live, ["/tmp/a/notes.txt", "/tmp/b/photo.png"]) == "ok"   # the box still shows notes.txt
    assert seen[-1] == ["/tmp/b/photo.png"]
    with pytest.raises(ValueError):                     # sent alone again, it is refused again
        upload(live, ["/tmp/a/notes.txt"])
    assert upload(SimpleNamespace(refused_uploads={}), "/tmp/c/one.png") == "ok"   # single-file boxes
