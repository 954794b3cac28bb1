"""The import contracts in pyproject.toml hold, and a deliberate violation breaks them.

(This replaces the hand-made boundary test: import-linter reads every import, including the ones
inside functions, and the layers contract forbids any import that runs upward.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "photocap", tree / "photocap", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_contracts_hold_on_this_tree(tmp_path):
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize("module,line,contract", [
    ("library/db.py", "import PySide6  # deliberate", "Only the GUI imports Qt"),
    ("library/photos.py", "import torch  # deliberate", "The library imports neither torch"),
    ("gui/worker.py", "from photocap import cli  # deliberate", "Layers"),
    ("library/scan.py", "from photocap import captioning  # deliberate", "Layers"),
    ("vision/loader.py", "def late():\n    from photocap.gui import app  # deliberate", "Layers"),
])
def test_a_deliberate_violation_fails_the_gate(tmp_path, module, line, contract):
    tree = _copy(tmp_path)
    _append(tree / "photocap" / module, line)
    result = _lint(tree)
    assert result.returncode != 0
    assert contract in result.stdout and "BROKEN" in result.stdout.upper()
