"""Command line: parse, call the engine, print. Errors are one line on stderr, never a traceback.

Exit codes: 0 ok, 1 a problem with the input or the library, 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from photocap import __version__, config
from photocap.commands import daemon, folders, gui, interop, library, options, review, similar, vision
from photocap.console import OneLineFormatter, printable
from photocap.library.errors import describe

COMMAND_MODULES = [library, similar, folders, vision, daemon, interop, review, gui]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photocap",
        description="Caption, tag and search your photo library with BLIP / BLIP-2.",
        epilog="Run `photocap COMMAND --help` for a command's options.")
    parser.add_argument("--version", action="version", version=f"photocap {__version__}")
    parser.add_argument("--db", metavar="PATH", help="library database "
                        "(default: library.db in the user data folder; env PHOTOCAP_DB)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub, [options.common()])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, handlers=[handler])
    if not args.command:
        # No subcommand: the desktop app, where there is a screen to show it on.
        if not gui.display_available():
            parser.print_help()
            print("\nphotocap: no display found for the desktop app: use the commands above, "
                  "or run `photocap` in a desktop session", file=sys.stderr)
            return 0
        args.func = gui.cmd_gui
    db_path = None
    try:
        settings = config.load().replace(db=args.db, **options.settings_changes(args))
        db_path = settings.db_path()
        from photocap.engine import Engine
        with Engine(settings, on_new_library=_announce_new_library) as engine:
            return args.func(args, engine)
    except KeyboardInterrupt:
        print("photocap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0            # `photocap search ... | head`
    except Exception as exc:  # noqa: BLE001 - users get one line; --debug shows the traceback
        if args.debug:
            raise
        print(f"photocap: error: {printable(describe(exc, db=db_path))}", file=sys.stderr)
        return 1


def _announce_new_library(path: Path) -> None:
    # Only commands that open the library can make one (`doctor`, `models` never open it).
    print(f"photocap: created a new library at {printable(str(path))}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
