"""`photocap gui`: the desktop app."""

from __future__ import annotations

import argparse
import os
import sys

from photocap.commands import options


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("gui", parents=[*parents, options.models()], help="open the desktop app",
                       description="Open the desktop app on the library: browse, search, caption, "
                                   "ask about photos and watch folders.")
    p.set_defaults(func=cmd_gui)


def display_available() -> bool:
    """Whether Qt can open a window here (it aborts the process when it cannot)."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_gui(args, engine) -> int:
    if not display_available():
        print("photocap: error: no display found (DISPLAY / WAYLAND_DISPLAY are not set): run the app "
              "in a desktop session, or use the command line (`photocap --help`)", file=sys.stderr)
        return 1
    # Qt is imported only here, so the rest of the command line starts fast without it.
    from photocap.gui.app import main
    return main(engine.settings)
