"""A checkpoint's config.json is checked (types, ranges, and against the weights' header) before any
model is built: every bad case is one ValueError naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import Engine
from engine import checkpoint as checkpoint_module
from engine.checkpoint import CONFIG, WEIGHTS, load_checkpoint, read_checkpoint_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A valid random tiny checkpoint (4 layers, width 128)."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    Engine.from_checkpoint("tiny").save(path)
    return path


def _variant(saved: Path, tmp_path: Path, edit) -> Path:
    """A copy of ``saved`` whose config document is changed by ``edit(doc)``."""
    out = tmp_path / "ckpt"
    out.mkdir()
    (out / WEIGHTS).symlink_to(saved / WEIGHTS)
    doc = json.loads((saved / CONFIG).read_text())
    edit(doc)
    (out / CONFIG).write_text(json.dumps(doc))
    return out


def _set(section: str, key: str, value):
    def edit(doc):
        doc["config"][section][key] = value
    return edit


def _no_tensor_reads(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("tensor data was read before the config was checked")
    monkeypatch.setattr(checkpoint_module, "load_file", fail)


def test_valid_checkpoint_loads(saved):
    cfg, state, _ = load_checkpoint(saved)
    assert cfg.model.num_layers == 4 and len(state) > 0


@pytest.mark.parametrize("section, key, value, field", [
    ("model", "num_layers", 100000, "model.num_layers"),   # would allocate until the machine runs out
    ("model", "num_layers", 5, "model.num_layers"),        # in range, but the weights hold 4 blocks
    ("model", "num_layers", "4", "model.num_layers"),      # wrong type
    ("model", "dim", 64, "model.dim"),
    ("model", "ffn_dim", 512, "model.ffn_dim"),
    ("model", "num_heads", 3, "model.num_heads"),
    ("model", "attention", "global", "model.attention"),
    ("model", "attention", "sparse", "model.attention"),
    ("model", "patch_size", [1, 1], "model.patch_size"),
    ("model", "absolute_position", "yes", "model.absolute_position"),
    ("model", "xfeat_features", True, "model.xfeat_features"),  # the weights have no feature embedding
    ("model", "warped_reference", True, "model.warped_reference"),  # nor a guide embedding
    ("clip", "height", -32, "clip.height"),
    ("clip", "width", 30, "clip.width"),
    ("clip", "num_frames", 8, "clip.num_frames"),
    ("sampler", "video_steps", 0, "sampler.video_steps"),
    ("sampler", "joint_order", "video_first", "sampler.joint_order"),
    ("sampler", "pose_ensemble", "average", "sampler.pose_ensemble"),
    ("flow", "p_video_clean", 1.5, "flow.p_video_clean"),
    ("vae", "patch_size", 8, "model.latent_channels"),
])
def test_bad_field_is_named(saved, tmp_path, monkeypatch, section, key, value, field):
    path = _variant(saved, tmp_path, _set(section, key, value))
    _no_tensor_reads(monkeypatch)
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert CONFIG in message and field in message and "\n" not in message


def test_unknown_key_is_named(saved, tmp_path):
    path = _variant(saved, tmp_path, _set("model", "depth", 4))
    with pytest.raises(ValueError, match=r"config\.json: config\.model: unknown keys \['depth'\]"):
        read_checkpoint_config(path)


@pytest.mark.parametrize("edit, problem", [
    (lambda doc: doc.__setitem__("config", [1, 2]), "config: expected a JSON object"),
    (lambda doc: doc["config"].__setitem__("model", 7), "config.model: expected a JSON object"),
    (lambda doc: doc.__setitem__("meta", "notes"), "meta: expected a JSON object"),
    (lambda doc: doc.__setitem__("format_version", "1"), "format_version '1' is not supported"),
])
def test_wrong_structure(saved, tmp_path, edit, problem):
    with pytest.raises(ValueError, match=problem):
        read_checkpoint_config(_variant(saved, tmp_path, edit))


def test_malformed_json(saved, tmp_path):
    path = _variant(saved, tmp_path, lambda doc: None)
    (path / CONFIG).write_text('{"format": "raxel-studio.checkpoint", ')
    with pytest.raises(ValueError, match=r"config\.json: not valid JSON"):
        load_checkpoint(path)


def test_corrupt_weights_header(saved, tmp_path):
    path = _variant(saved, tmp_path, lambda doc: None)
    (path / WEIGHTS).unlink()
    (path / WEIGHTS).write_bytes(b"\xff" * 8 + b"not a header")
    with pytest.raises(ValueError, match=r"model\.safetensors: cannot be read as safetensors"):
        load_checkpoint(path)


def test_engine_refuses_a_mismatched_checkpoint_by_name(saved, tmp_path):
    path = _variant(saved, tmp_path, _set("model", "num_layers", 100000))
    with pytest.raises(ValueError, match="model.num_layers"):
        Engine.from_checkpoint(path, device="cpu")


def test_saved_weights_get_the_permissions_of_any_new_file(tmp_path):
    # safetensors writes 0600; a checkpoint is an output like any other (0666 less the umask).
    import os

    from engine.checkpoint import save_checkpoint
    from engine.config import preset
    from engine.pipeline import JointPipeline

    old = os.umask(0o022)
    try:
        out = save_checkpoint(tmp_path / "ck", JointPipeline(preset("tiny")).model, preset("tiny"))
    finally:
        os.umask(old)
    assert (out / WEIGHTS).stat().st_mode & 0o777 == 0o644
    assert (out / CONFIG).stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in out.iterdir()) == sorted([WEIGHTS, CONFIG])      # no temporary left
