"""`photocap gui`: the desktop app."""

from __future__ import annotations

import argparse

from photocap.commands import options


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("gui", parents=[*parents, options.models()], help="open the desktop app",
                       description="Open the desktop app on the library: browse, search, caption, "
                                   "ask about photos and watch folders.")
    p.set_defaults(func=cmd_gui)


def cmd_gui(args, engine) -> int:
    # Qt is imported only here, so the rest of the command line starts fast without it.
    from photocap.gui.app import main
    return main(engine.settings)
