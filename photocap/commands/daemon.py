"""`photocap watch`, `pause` and `resume`: the headless daemon and its controls."""

from __future__ import annotations

import argparse
import logging

from photocap.commands import options
from photocap.commands.library import add_cluster_flags, cluster_options
from photocap.console import OneLineFormatter


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("watch", parents=[*parents, options.models()],
                       help="watch folders: caption new photos as they arrive (runs until stopped)",
                       description="Watch folders (and the library's folders) and caption photos as they "
                                   "arrive. SIGTERM or Ctrl+C stop it cleanly.")
    p.add_argument("folders", nargs="*", metavar="DIR", help="folders to add (default: the library's)")
    p.add_argument("--once", action="store_true", help="reconcile, caption everything pending, and exit")
    p.add_argument("--polling", action="store_true", help="poll folders instead of change notifications")
    p.add_argument("--settle", type=float, metavar="SECONDS", help="quiet time before a new file is taken")
    p.add_argument("--quiet", action="store_true", help="log warnings only")
    add_cluster_flags(p)
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("pause", parents=parents, help="pause captioning (daemon and app)")
    p.set_defaults(func=cmd_pause, paused=True)
    p = sub.add_parser("resume", parents=parents, help="resume captioning")
    p.set_defaults(func=cmd_pause, paused=False)


def cmd_watch(args, engine) -> int:
    from photocap import daemon
    on_cluster = cluster_options(args)
    level = (logging.WARNING if args.quiet
             else logging.DEBUG if getattr(args, "debug", False) else logging.INFO)
    logging.getLogger().setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    if args.settle is not None:
        engine.settings = engine.settings.replace(settle_seconds=args.settle)
    return daemon.run(engine, args.folders, once=args.once, force_polling=args.polling, cluster=on_cluster)


def cmd_pause(args, engine) -> int:
    engine.pause(args.paused)
    print("captioning paused" if args.paused else "captioning resumed")
    return 0
