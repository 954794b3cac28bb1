"""`photocap review approve|reset|more QUERY`: review many photos' captions at once, or get them more
caption candidates to choose from."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from photocap.commands import options
from photocap.console import path_text, printable, query_text
from photocap.library import photos
from photocap.library.db import LibraryError
from photocap.library.images import ImageError
from photocap.library.search import keyword


class _Intermixed(argparse.ArgumentParser):
    """Options anywhere among the query words (`review approve --dry-run dog`): a plain parser
    would take the empty query before the option and refuse the words after it."""

    _inside = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        if self._inside:                     # parse_known_intermixed_args calls back in here
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("review", parents=parents, help="approve or reset the captions of the photos a search finds")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Intermixed)
    a = actions.add_parser(
        "approve", parents=parents, help="approve the first machine caption of each photo still to review",
        description="The first machine caption of each matching photo still to review (review:todo) is "
                    "approved; its text is not changed, and a caption the user wrote is never touched.")
    r = actions.add_parser(
        "reset", parents=parents, help="remove the approvals (a user's own caption is never deleted)",
        description="Approvals of machine captions are removed: those photos are to review again. A caption "
                    "the user wrote is never deleted or changed by reset: an edited photo stays edited.")
    for q in (a, r):
        q.add_argument("query", nargs="*", help="only photos matching this search (default: all)")
        q.add_argument("--dry-run", action="store_true", help="print how many photos would change; change nothing")
        q.set_defaults(func=cmd_review)
    m = actions.add_parser(
        "more", parents=[*parents, options.models()], help="add more caption candidates to the photos a search finds",
        description="Each matching photo is captioned again with nucleus sampling (top_p from the settings, the "
                    "temperature if you sample, else 1.0) and at least 3 new candidates are added after its "
                    "captions; its captions, approvals and your own caption stay.")
    m.add_argument("query", nargs="+", help="the photos to caption again (a search)")
    m.set_defaults(func=cmd_more)


def cmd_review(args, engine) -> int:
    query = query_text(args.query)
    ids = keyword.matching_ids(engine.conn, query)
    change = photos.approve_todo if args.action == "approve" else photos.reset_review
    n = change(engine.conn, ids, dry_run=args.dry_run)
    done = "approved" if args.action == "approve" else "reset"
    noun = "photo" if n == 1 else "photos"
    print(f"{n} {noun} would be {done} (dry run)" if args.dry_run else f"{n} {noun} {done}")
    return 0


def cmd_more(args, engine) -> int:
    query = query_text(args.query)
    ids = keyword.matching_ids(engine.conn, query)
    if not ids:
        print(f"no photo matches {printable(query)}")
        return 0
    failures = 0
    for photo_id in ids:
        photo = photos.get(engine.conn, photo_id)
        if photo is None:
            continue                         # removed since the search
        try:
            now = engine.more_captions(photo_id)
        except (ImageError, LibraryError) as exc:
            failures += 1
            print(f"photocap: {path_text(photo.path)}: {printable(getattr(exc, 'reason', exc))}", file=sys.stderr)
            continue
        print(f"{path_text(photo.path)}: {printable(' | '.join(now))}")
    return 1 if failures else 0
