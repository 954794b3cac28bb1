"""`photocap gui` is a subcommand like the others, and Qt stays out of the command line's imports."""

from __future__ import annotations

import argparse
import subprocess
import sys

from photocap.commands import gui, options


def test_gui_command_parses_db_and_model_options(tmp_path):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    gui.register(sub, [options.common()])
    args = parser.parse_args(["gui", "--db", str(tmp_path / "x.db"), "--model", "blip-large"])
    assert args.func is gui.cmd_gui
    assert args.db == str(tmp_path / "x.db") and args.model == "blip-large"


def test_importing_the_command_does_not_import_qt():
    code = "import sys, photocap.commands.gui; print('PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr

