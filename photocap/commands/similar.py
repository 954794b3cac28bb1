"""`photocap similar` and `duplicates`: photos compared by what they show (their embeddings)."""

from __future__ import annotations

import argparse
import json

from photocap.commands import options
from photocap.commands.library import hit_json, show_hits
from photocap.console import path_text, positive_int, query_text

DEFAULT_THRESHOLD = 0.95


def threshold(text: str) -> float:
    """argparse type: a cosine from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text}")
    return value


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("similar", parents=[*parents, options.embedding()],
                       help="photos that look like a photo",
                       description="The library photos most similar to PHOTO (a path in the library, or a "
                                   "photo id), by their embeddings; the photo itself is left out.")
    p.add_argument("photo", metavar="PHOTO", help="a library photo: its path or its id")
    p.add_argument("--limit", type=positive_int, default=20, help="how many results (default 20)")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("duplicates", parents=[*parents, options.embedding()],
                       help="groups of near-duplicate photos",
                       description="Groups of near-duplicates (bursts, resized or recompressed copies) among "
                                   "the photos QUERY finds (all photos without one), the largest copy of "
                                   "each group first. Nothing is deleted.")
    p.add_argument("query", nargs="*", help="only photos this search finds (same language as search)")
    p.add_argument("--threshold", type=threshold, default=DEFAULT_THRESHOLD, metavar="T",
                   help=f"how alike two photos must be, a cosine from 0 to 1 (default {DEFAULT_THRESHOLD})")
    p.add_argument("--json", action="store_true", help="print a JSON list of groups, each a list of photos")
    p.set_defaults(func=cmd_duplicates)


def cmd_similar(args, engine) -> int:
    hits = engine.similar(args.photo, limit=args.limit)
    return show_hits(hits, as_json=args.json, none="no similar photos")


def cmd_duplicates(args, engine) -> int:
    groups = engine.duplicates(query_text(args.query).strip(), threshold=args.threshold)
    if args.json:
        print(json.dumps([[hit_json(h) for h in group] for group in groups], indent=2, ensure_ascii=False))
        return 0
    if not groups:
        print("no near-duplicates found")
        return 0
    for n, group in enumerate(groups, 1):
        print(f"group {n}: {len(group)} photos")
        for i, h in enumerate(group):
            print(f"    {path_text(h.path)}{'  (largest)' if i == 0 else ''}")   # the largest copy comes first
    extra = sum(len(g) - 1 for g in groups)
    print(f"{len(groups)} group{'s' if len(groups) != 1 else ''}, {extra} extra cop{'ies' if extra != 1 else 'y'}")
    return 0
