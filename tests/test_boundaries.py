"""The core stays free of Qt (and the library of torch), as the design requires."""

import pkgutil
import subprocess
import sys

import photocap.library
import photocap.vision

BLOCK = """
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError(f"{{name}} must not be imported here")
sys.meta_path.insert(0, Blocker())
import importlib
for module in {modules!r}:
    importlib.import_module(module)
print("ok")
"""


def _modules(package):
    return [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]


def _run(blocked, modules):
    code = BLOCK.format(blocked=set(blocked), modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_library_imports_neither_qt_nor_torch():
    modules = _modules(photocap.library) + ["photocap.engine", "photocap.config", "photocap.cli"]
    result = _run({"PySide6", "torch", "transformers", "photocap.gui"}, modules)
    assert result.stdout.strip() == "ok", result.stderr


def test_vision_imports_no_qt():
    result = _run({"PySide6"}, _modules(photocap.vision))
    assert result.stdout.strip() == "ok", result.stderr


def test_the_blocker_really_blocks():
    result = _run({"json"}, ["photocap.cli"])
    assert result.returncode != 0 and "must not be imported" in result.stderr
