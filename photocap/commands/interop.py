"""`photocap export`, `import`, `xmp write` and `doctor`: photocap among other photo tools."""

from __future__ import annotations

import argparse
import os
import sys

from photocap.library import exchange, search, xmp
from photocap.library.publish import publish


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("export", parents=parents, help="export captions, tags and questions (JSONL or CSV)")
    p.add_argument("query", nargs="*", help="only photos matching this search (default: all)")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: standard output)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=parents, help="import reviewed captions and tags (JSONL or CSV)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file name")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("xmp", parents=parents, help="write captions and tags into XMP sidecars")
    p.add_argument("action", choices=["write"])
    p.add_argument("query", nargs="*", help="only photos matching this search (default: all)")
    p.add_argument("--naming", choices=["digikam", "lightroom"],
                   help="IMG_1.jpg.xmp (digiKam, darktable) or IMG_1.xmp (Lightroom); default: setting")
    p.add_argument("--into-files", action="store_true",
                   help="also embed the XMP in JPEG files themselves (pixels untouched)")
    p.set_defaults(func=cmd_xmp)

    p = sub.add_parser("doctor", parents=parents, help="check the installation and say how to fix problems")
    p.set_defaults(func=cmd_doctor)


def cmd_export(args, engine) -> int:
    rows = exchange.records(engine.conn, " ".join(args.query))
    writer = exchange.write_csv if args.format == "csv" else exchange.write_jsonl
    if args.output:
        tmp = args.output + ".part"
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            n = writer(rows, out)
        os.replace(tmp, args.output)
        print(f"exported {n} photos to {args.output}", file=sys.stderr)
    else:
        writer(rows, sys.stdout)
    return 0


def cmd_import(args, engine) -> int:
    fmt = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    with open(args.file, encoding="utf-8-sig") as f:
        text = f.read()
    report = exchange.import_records(engine.conn, text, fmt)
    print(f"matched {report.matched} photos: {report.captions} reviewed captions, {report.tags} tags")
    for path in report.unmatched[:20]:
        print(f"photocap: not in the library: {path}", file=sys.stderr)
    if len(report.unmatched) > 20:
        print(f"photocap: ... and {len(report.unmatched) - 20} more not in the library", file=sys.stderr)
    for problem in report.problems:
        print(f"photocap: skipped {problem}", file=sys.stderr)
    return 1 if report.unmatched or report.problems else 0


def cmd_xmp(args, engine) -> int:
    naming = args.naming or engine.settings.xmp_naming
    query = " ".join(args.query)
    ids = [i for i, _ in search.ranked_ids(engine.conn, query, limit=-1)] if query.strip() else \
        [r[0] for r in engine.conn.execute("SELECT id FROM photos WHERE status != 'missing'")]
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
