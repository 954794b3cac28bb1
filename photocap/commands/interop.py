"""`photocap export`, `import`, `xmp write` and `doctor`: photocap among other photo tools."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from photocap.console import printable, query_text, warn
from photocap.library import exchange, photos, xmp
from photocap.library.publish import publish
from photocap.library.search import keyword


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("export", parents=parents, help="export captions, tags and questions (JSONL or CSV)")
    p.add_argument("query", nargs="*", help="only photos matching this search (default: all)")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--approved-only", action="store_true",
                   help="only photos whose caption was approved or edited (see `photocap review`)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=parents, help="import reviewed captions and tags (JSONL or CSV)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file name")
    p.add_argument("--strict", action="store_true",
                   help="import nothing if any line has a problem (default: report it, import the rest)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("xmp", parents=parents, help="write captions and tags into XMP sidecars")
    p.add_argument("action", choices=["write"])
    p.add_argument("query", nargs="*", help="only photos matching this search (default: all)")
    p.add_argument("--naming", choices=["digikam", "lightroom"],
                   help="IMG_1.jpg.xmp (digiKam, darktable) or IMG_1.xmp (Lightroom); default: setting")
    p.add_argument("--into-files", action="store_true",
                   help="also embed the XMP in JPEG files themselves (pixels untouched)")
    p.add_argument("--approved-only", action="store_true",
                   help="only photos whose caption was approved or edited (see `photocap review`)")
    p.set_defaults(func=cmd_xmp)

    p = sub.add_parser("doctor", parents=parents, help="check the installation and say how to fix problems")
    p.set_defaults(func=cmd_doctor)


def cmd_export(args, engine) -> int:
    rows = exchange.records(engine.conn, query_text(args.query), approved_only=args.approved_only)
    writer = exchange.write_csv if args.format == "csv" else exchange.write_jsonl
    if args.output:
        tmp = args.output + ".part"
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as out:
                n = writer(rows, out)
            os.replace(tmp, args.output)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)          # no half-written file left behind
            raise
        print(f"exported {n} photos to {printable(args.output)}", file=sys.stderr)
    else:
        writer(rows, sys.stdout)
    return 0


# Problems shown one per line; the rest are counted (a 100,000-line file can be all wrong).
SHOWN_PROBLEMS = 50


def cmd_import(args, engine) -> int:
    fmt = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    # newline="": line breaks inside CSV cells stay as written. surrogateescape: a line that is not
    # UTF-8 is reported as such (and a path in it still names its file exactly).
    with open(args.file, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
        report = exchange.import_records(engine.conn, f, fmt, strict=args.strict)
    for problem in report.problems[:SHOWN_PROBLEMS]:
        warn(problem)
    if len(report.problems) > SHOWN_PROBLEMS:
        warn(f"... and {len(report.problems) - SHOWN_PROBLEMS} more lines with problems")
    if not report.committed:
        warn(f"nothing imported (--strict): {len(report.problems)} lines have problems")
        return 1
    skipped = f"; {len(report.problems)} lines skipped" if report.problems else ""
    print(f"imported {report.imported} photos: {report.captions} reviewed captions, "
          f"{report.tags} tags{skipped}")
    return 1 if report.problems else 0


def cmd_xmp(args, engine) -> int:
    naming = args.naming or engine.settings.xmp_naming
    query = query_text(args.query)
    # An empty query finds every photo that is there (not missing), like `search` and the app.
    ids = keyword.matching_ids(engine.conn, query)
    if args.approved_only:
        ids = [i for i in ids if photos.review_state(engine.conn, i)[0] in exchange.REVIEWED]
    written = failed = 0
    for photo_id in ids:
        try:
            written += publish(engine.conn, photo_id, naming=naming, into_file=args.into_files)
        except xmp.XmpError as exc:
            failed += 1
            print(f"photocap: {exc}", file=sys.stderr)
    print(f"wrote XMP for {written} photos" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


def cmd_doctor(args, engine) -> int:
    from photocap import doctor
    text, problems = doctor.report(engine.settings)
    print(text)
    return 0
