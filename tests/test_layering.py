"""The packages' dependency rule (DEVELOPERS.md): studio -> engine's public API -> geometry; geometry knows no
model and no UI; the engine knows no UI. Checked on the import statements of every source file."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> list[str]:
    """Absolute module names imported by a file (``from x import y`` gives x; relative imports are skipped)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append(node.module)
    return out


def _files(*parts: str) -> list[Path]:
    files = []
    for part in parts:
        p = ROOT / part
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    assert files, f"no source files under {parts}"
    return files


@pytest.mark.parametrize("path", _files("studio", "app.py"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_studio_uses_only_the_engines_public_api(path):
    private = [m for m in _imports(path) if m.startswith("engine.")]
    assert not private, f"{path.relative_to(ROOT)} imports engine internals {private}: use `from engine import ...`"


@pytest.mark.parametrize("package,forbidden", [("geometry", ("engine", "studio", "gradio", "viser", "diffusers")),
                                               ("engine", ("studio", "gradio", "viser"))])
def test_lower_packages_know_nothing_of_the_ones_above(package, forbidden):
    bad = {str(p.relative_to(ROOT)): m for p in _files(package) for m in _imports(p)
           if any(m == f or m.startswith(f + ".") for f in forbidden)}
    assert not bad, f"{package} imports what it must not know: {bad}"
