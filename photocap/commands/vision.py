"""`photocap caption`, `ask` and `models`: the models, with or without the library."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys

from photocap.captioning import usable_captions
from photocap.commands import options
from photocap.console import path_text, printable, query_text
from photocap.library import paths, photos
from photocap.library.db import write
from photocap.library.search import keyword


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("caption", parents=[*parents, options.models()],
                       help="caption image files (the library is not touched)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="print a JSON list of {path, captions}")
    p.set_defaults(func=cmd_caption)

    p = sub.add_parser("ask", parents=[*parents, options.models()],
                       help="ask a question about a photo (answers are kept for library photos)")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("question", nargs="+")
    p.add_argument("--json", action="store_true", help="print a JSON object with the answer")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("models", parents=parents, help="list model presets, or download one",
                       description="List the model presets and which are present locally; "
                                   "`photocap models pull NAME` downloads one.")
    p.add_argument("action", nargs="?", choices=["list", "pull"], default="list")
    p.add_argument("name", nargs="?", help="preset to pull")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("retry", parents=parents, help="queue failed photos for captioning again",
                       description="Put failed photos back in the caption queue: all of them, or those a "
                                   "search finds (same query language as `photocap search`), e.g. "
                                   "`photocap retry folder:holiday`.")
    p.add_argument("query", nargs="*", help="only the failed photos this search finds")
    p.set_defaults(func=cmd_retry)

def cmd_caption(args, engine) -> int:
    failures = 0
    results = []
    for path, outcome in engine.caption_files(args.images):
        if not isinstance(outcome, Exception):
            outcome = usable_captions(outcome) or ValueError("the model wrote no caption")
        if isinstance(outcome, Exception):
            failures += 1
            print(f"photocap: {path_text(path)}: {printable(getattr(outcome, 'reason', outcome))}",
                  file=sys.stderr)
            continue
        results.append({"path": paths.display(path), "captions": outcome})
        if not args.json:
            print(f"{path_text(path)}: {printable(' | '.join(outcome))}")
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if failures else 0


def cmd_ask(args, engine) -> int:
    if not os.path.exists(args.image):
        print(f"photocap: error: no such image: {path_text(args.image)}", file=sys.stderr)
        return 1
    answer = engine.ask(args.image, " ".join(args.question))
    print(json.dumps({"answer": answer}, ensure_ascii=False) if args.json else printable(answer))
    return 0


def cmd_models(args, engine) -> int:
    from photocap.vision import registry
    if args.action == "pull":
        if not args.name:
            print("photocap models pull: error: name a preset, e.g. blip-base", file=sys.stderr)
            return 2
        where = registry.pull(args.name)
        print(f"{args.name} is ready in {where}")
        return 0
    models = registry.list_models()
    if args.json:
        print(json.dumps(models, indent=2, default=str))
        return 0
    for m in models:
        size = f"{m['size_bytes'] / 1e6:,.0f} MB" if m.get("size_bytes") else "-"
        uses = (("caption", m["can_caption"]), ("questions", m["can_ask"]), ("search", m["can_embed"]))
        can = ", ".join(use for use, flag in uses if flag)
        state = "present" if m["present"] else "not downloaded"
        print(f"{m['name']:<15} {state:<15} {size:>10}  {can:<18} {m['source']}")
    print("\nget one with `photocap models pull NAME`, or pass a folder made with save_pretrained to --model "
          "(captions) or --embed-model (search)")
    return 0


def cmd_retry(args, engine) -> int:
    query = query_text(args.query).strip()
    shown = printable(query)
    failed = photos.counts(engine.conn)["failed"]
    if not failed:
        print("no failed photos")
        return 0
    requeued = requeue_failed(engine.conn, query)
    if not query:
        print(f"requeued {requeued} failed photos")
    elif requeued:
        print(f"requeued {requeued} of {failed} failed photos (those matching {shown})")
    else:
        print(f"no failed photos match {shown} ({failed} failed in all)")
    return 0


def requeue_failed(conn: sqlite3.Connection, query: str = "") -> int:
    """Failed photos the query finds go back to pending (the queue follows the status)."""
    with write(conn):  # one transaction: nothing changes between finding and requeueing
        found = keyword.ranked_ids(conn, f"status:failed {query}", limit=-1)
        # A query may add other status: filters (they are ORed): only failed photos are requeued.
        ids = [pid for pid, _ in found if (photo := photos.get(conn, pid)) and photo.status == "failed"]
        for pid in ids:
            photos.set_status(conn, pid, "pending")
    return len(ids)
