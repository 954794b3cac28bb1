"""`photocap folders`: list, add and remove the library's folders."""

from __future__ import annotations

import argparse
import json

from photocap.console import path_text
from photocap.library import roots

REMOVE_HELP = ("Stop watching a folder. Its photos leave search but keep their captions, tags and "
               "answers, so adding the folder again brings them back as they were; --forget deletes "
               "them from the library instead. The files themselves are never touched.")


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("folders", parents=parents, help="list, add or remove library folders",
                       description="The folders the library watches. A folder inside a library folder "
                                   "is already part of it; adding a folder that holds library folders "
                                   "merges them into it.")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    q = actions.add_parser("list", parents=parents, help="the library folders and their photo counts")
    q.add_argument("--json", action="store_true", help="print a JSON list")
    q.set_defaults(func=cmd_list)

    q = actions.add_parser("add", parents=parents, help="add folders (scan them with `photocap index`)",
                           description="Add folders to the library without scanning them: `photocap "
                                       "index` scans them, `photocap watch` and the app do so within "
                                       "seconds. A file, or a path that does not exist, is refused.")
    q.add_argument("paths", nargs="+", metavar="PATH", help="folder to add")
    q.set_defaults(func=cmd_add)

    q = actions.add_parser("remove", parents=parents, help="stop watching a folder (captions are kept)",
                           description=REMOVE_HELP)
    q.add_argument("path", metavar="PATH", help="library folder to remove")
    q.add_argument("--forget", action="store_true",
                   help="also delete its photos' records, captions and tags from the library")
    q.set_defaults(func=cmd_remove)


def cmd_list(args, engine) -> int:
    folders = engine.folders()
    if args.json:
        print(json.dumps(folders, indent=2, ensure_ascii=False))
        return 0
    if not folders:
        print("no folders yet: add one with `photocap folders add ~/Pictures` or `photocap index ~/Pictures`")
    for f in folders:
        state = "" if f["online"] else " (offline)"
        missing = f", {f['missing']} missing" if f["missing"] else ""
        print(f"{path_text(f['path'])}{state}: {f['photos']} photos{missing}")
    return 0


def cmd_add(args, engine) -> int:
    for path in args.paths:
        added = engine.add_folder(path)
        if not added.created:
            print(f"{path_text(added.root.path)} is already a library folder"
                  if added.root.path == _normal(path) else
                  f"{path_text(_normal(path))} is already in the library folder {path_text(added.root.path)}")
            continue
        merged = f" (it takes in {', '.join(path_text(p) for p in added.merged)})" if added.merged else ""
        print(f"added {path_text(added.root.path)}{merged}")
    return 0


def cmd_remove(args, engine) -> int:
    count = engine.remove_folder(args.path, forget=args.forget)
    where = path_text(_normal(args.path))
    if args.forget:
        print(f"removed {where} and forgot its {count} photos (the files are untouched)")
    else:
        print(f"removed {where}: its {count} photos keep their captions and come back if you add it again")
    return 0


def _normal(path: str) -> str:
    return roots.normalize(path)
