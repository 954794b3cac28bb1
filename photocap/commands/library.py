"""`photocap index`, `search` and `status`: the library itself."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from photocap.commands import options
from photocap.console import Progress, StatusLine, path_text, positive_int, printable, query_text, warn
from photocap.library import paths

SEARCH_MODES = ("hybrid", "keyword", "semantic")
SEARCH_SORTS = ("relevance", "newest", "oldest")


def register(sub: argparse._SubParsersAction, parents: list) -> None:
    p = sub.add_parser("index", parents=[*parents, options.models()],
                       help="add photo folders to the library, scan them and caption new photos",
                       description="Scan folders (recursively) into the library, then caption what is "
                                   "pending. A folder inside a library folder is part of it; one that "
                                   "holds library folders takes them in.")
    p.add_argument("folders", nargs="+", metavar="DIR", help="photo folder to add and scan")
    p.add_argument("--no-caption", action="store_true", help="record the photos only; caption later")
    p.add_argument("--json", action="store_true", help="print the scan report as JSON")
    p.add_argument("--follow-links", action="store_true",
                   help="follow links that lead out of the folders (default: only links that stay inside; "
                        "setting follow_links)")
    add_cluster_flags(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", parents=[*parents, options.embedding()],
                       help="search the library by words and by meaning",
                       description='Words (all must match), "exact phrase", OR, -exclude, prefix*, '
                                   "and filters tag: folder: path: after:YYYY-MM-DD before: status:. "
                                   "By default the words are also compared by meaning with each photo "
                                   "(hybrid): a photo of the sea is found by 'coast'.")
    p.add_argument("query", nargs="+", help="what to look for")
    p.add_argument("--limit", type=positive_int, default=20, help="how many results (default 20)")
    p.add_argument("--mode", choices=SEARCH_MODES, default="hybrid",
                   help="hybrid: words and meaning in one ranking (default; words only when there is no "
                        "embedding model or no embeddings yet); keyword: the words only; semantic: "
                        "meaning only")
    p.add_argument("--sort", choices=SEARCH_SORTS, default="relevance",
                   help="relevance (default), or newest / oldest first by the date taken")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("status", parents=parents, help="library folders and photo counts")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.set_defaults(func=cmd_status)


def add_cluster_flags(p: argparse.ArgumentParser) -> None:
    """--cluster, --path-map and --ship-files (index and watch): caption on a Ray cluster."""
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="caption on a Ray cluster: auto (on a node of it), HEAD:6379, or local[:N] to start Ray "
                        "here with N workers (needs pip install 'photocap[cluster]')")
    p.add_argument("--path-map", action="append", default=[], metavar="LOCAL=REMOTE",
                   help="with --cluster: photos under LOCAL are at REMOTE on the workers (repeatable)")
    p.add_argument("--ship-files", action="store_true",
                   help="with --cluster: send the photos' bytes to the workers (they need no shared storage)")


def cluster_options(args):
    """The ClusterOptions of --cluster (Ray checked, one line if missing); None without --cluster."""
    if args.cluster is None:               # an empty --cluster "$ADDRESS" is a mistake, said below
        if args.path_map or args.ship_files:
            raise SystemExit("photocap: error: --path-map and --ship-files need --cluster ADDRESS")
        return None
    from photocap import cluster
    try:
        options = cluster.ClusterOptions(address=cluster.parse_address(args.cluster),
                                         path_maps=tuple(cluster.parse_path_map(m) for m in args.path_map),
                                         ship_files=args.ship_files)
        cluster.import_ray()
    except cluster.ClusterError as exc:
        raise SystemExit(f"photocap: error: {exc}") from None
    return options


def caption_on_cluster(engine, options, before: Callable[[], object] | None = None) -> int:
    """caption_queue on a Ray cluster: one progress line; Ctrl+C or SIGTERM keep what is done (exit 130).
    `before` (a scan) runs once the cluster answers: a wrong address costs no scan."""
    import sys
    import threading

    from photocap import cluster
    line = StatusLine()
    stop = threading.Event()
    try:
        with cluster.ClusterRun(engine, options, on_progress=lambda p: line.show(p.line())) as run:
            if before is not None:
                before()
            with cluster.stop_on_signals(stop):
                progress = run.run(stop)
    except cluster.ModelUnavailable as exc:
        line.done()
        warn(f"{engine.status()['pending']} photos wait for captions: {exc}")
        return 0
    except cluster.ClusterError as exc:
        line.done()
        raise SystemExit(f"photocap: error: {exc}") from None
    line.done()
    print(progress.line().replace(", 0 pending", ""))
    if progress.interrupted:
        print("photocap: interrupted", file=sys.stderr)
        return 130
    return 0


def cmd_index(args, engine) -> int:
    on_cluster = cluster_options(args)          # checked before scanning: a missing Ray costs nothing
    if args.follow_links:
        engine.settings = engine.settings.replace(follow_links=True)
    scanned_ok = True

    def scan() -> None:
        nonlocal scanned_ok
        progress = Progress("scanning")
        reports = engine.index(args.folders, progress)
        progress.done()
        for r in reports:
            for err in r.errors:
                warn(err)
        if args.json:
            print(json.dumps([{k: v for k, v in vars(r).items() if k != "added_ids"} for r in reports],
                             indent=2))
        else:
            for r in reports:
                state = "" if r.online else " (offline)"
                print(f"{path_text(r.root)}{state}: {r.files} photos, {r.added} new, {r.moved} moved, "
                      f"{r.updated} changed, {r.missing} missing, {len(r.errors)} problems "
                      f"({r.seconds:.1f} s)")
        scanned_ok = all(r.online for r in reports)

    if on_cluster is not None and not args.no_caption:
        # The cluster first: a mistyped address is one line before a scan of a million photos.
        return caption_on_cluster(engine, on_cluster, before=scan) or (0 if scanned_ok else 1)
    scan()
    if args.no_caption:
        return 0 if scanned_ok else 1
    return caption_queue(engine) or (0 if scanned_ok else 1)


def caption_queue(engine) -> int:
    """Caption what is pending, with a progress line on a terminal. No model: say so, keep the queue."""
    from photocap.vision.loader import ModelUnavailable
    line = StatusLine()
    try:
        progress = engine.caption_pending(on_progress=lambda p: line.show(p.line()))
    except ModelUnavailable as exc:
        line.done()
        pending = engine.status()["pending"]
        warn(f"{pending} photos wait for captions: {exc}")
        return 0
    line.done()
    print(progress.line().replace(", 0 pending", ""))
    return 0


def hit_json(h) -> dict:
    """A hit as `search --json` prints it (also `similar` and `duplicates`)."""
    return {"path": paths.display(h.path), "caption": h.caption, "tags": h.tags, "taken_at": h.taken_at,
            "score": round(h.score, 4), "status": h.status,
            "semantic_score": None if h.semantic_score is None else round(h.semantic_score, 4),
            "keyword_rank": h.keyword_rank}


def print_hits(hits: list) -> None:
    for h in hits:
        # Paths, captions and tags come from files and their metadata: one hit, two lines, always.
        print(path_text(h.path))
        detail = h.caption or f"({h.status})"
        if h.tags:
            detail += "  [" + ", ".join(h.tags) + "]"
        print(f"    {printable(detail)}")


def cmd_search(args, engine) -> int:
    hits = engine.search(query_text(args.query), limit=args.limit, mode=args.mode, sort=args.sort,
                         on_note=warn)
    return show_hits(hits, as_json=args.json, none="no photos match")


def show_hits(hits: list, *, as_json: bool, none: str) -> int:
    """Hits as a JSON list, or two lines each, or `none` when there are none."""
    if as_json:
        print(json.dumps([hit_json(h) for h in hits], indent=2, ensure_ascii=False))
    elif not hits:
        print(none)
    else:
        print_hits(hits)
    return 0


def cmd_status(args, engine) -> int:
    s = engine.status()
    if args.json:
        print(json.dumps(s, indent=2, ensure_ascii=False))
        return 0
    print(f"library: {printable(s['db'])}")
    print(f"photos: {s['photos']}  captioned: {s['captioned']}  pending: {s['pending']}  "
          f"failed: {s['failed']}  missing: {s['missing']}")
    print(f"embedded: {s['embedded']} (model {printable(s['embed_model'])})")
    for r in s["roots"]:
        print(f"folder: {path_text(r['path'])}{'' if r['online'] else ' (offline)'}")
    if not s["roots"]:
        print("no folders yet: add one with `photocap index ~/Pictures`")
    return 0
