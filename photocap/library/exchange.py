"""Export and import of captions, tags and questions for review work (JSON Lines or CSV).

An export holds, per photo: path, captions (text, source, model, approved), tags (tag, source) and
questions. Importing a reviewed file back makes each reviewed caption the photo's approved user
caption (never overwritten by re-captioning) and its tag list the photo's tags.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from photocap.library import paths, photos, search
from photocap.library.db import LibraryError, write

CSV_COLUMNS = ["path", "caption", "caption_source", "model", "approved", "tags", "captions", "questions"]


def records(conn: sqlite3.Connection, query: str = "") -> Iterator[dict]:
    """One dict per photo matching `query` (everything when empty), in library order."""
    if query.strip():
        ids = [photo_id for photo_id, _ in search.ranked_ids(conn, query, limit=-1)]
    else:
        ids = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY path")]
    for photo_id in ids:
        photo = photos.get(conn, photo_id)
        if photo is None:
            continue
        yield {
            "path": paths.display(photo.path),
            "taken_at": photo.taken_at,
            "status": photo.status,
            "captions": [{"text": c.text, "source": c.source, "model": c.model, "approved": c.approved}
                         for c in photos.captions(conn, photo_id)],
            "tags": [{"tag": t, "source": s} for t, s in photos.tags(conn, photo_id)],
            "questions": [{"question": q, "answer": a} for q, a in photos.questions(conn, photo_id)],
        }


def write_jsonl(rows: Iterable[dict], out: IO[str]) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict], out: IO[str]) -> int:
    """One row per photo: the first caption in its own columns (easy to edit in a spreadsheet)."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    n = 0
    for row in rows:
        first = row["captions"][0] if row["captions"] else {}
        writer.writerow({
            "path": row["path"], "caption": first.get("text", ""),
            "caption_source": first.get("source", ""), "model": first.get("model") or "",
            "approved": "yes" if first.get("approved") else "no",
            "tags": "; ".join(t["tag"] for t in row["tags"]),
            "captions": json.dumps(row["captions"], ensure_ascii=False),
            "questions": json.dumps(row["questions"], ensure_ascii=False),
        })
        n += 1
    return n


@dataclass
class ImportReport:
    matched: int = 0
    captions: int = 0
    tags: int = 0
    unmatched: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_records(text: str, fmt: str) -> Iterator[tuple[int, dict | str]]:
    """(line number, record) pairs; a record that cannot be read comes as its error text."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"line {number}: not JSON ({exc.msg})"
                continue
            yield number, value if isinstance(value, dict) else f"line {number}: not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "path" not in reader.fieldnames:
        raise LibraryError("the CSV file has no 'path' column")
    for number, row in enumerate(reader, start=2):
        record: dict = {"path": row.get("path") or ""}
        if row.get("caption") is not None:
            record["caption"] = row["caption"]
        if row.get("tags") is not None:
            record["tags"] = [t.strip() for t in row["tags"].split(";") if t.strip()]
        yield number, record


def _reviewed_caption(record: dict) -> str | None:
    if isinstance(record.get("caption"), str):
        return record["caption"]
    caps = record.get("captions")
    if isinstance(caps, list) and caps:
        chosen = next((c for c in caps if isinstance(c, dict) and c.get("source") == "user"), caps[0])
        return chosen.get("text") if isinstance(chosen, dict) else str(chosen)
    return None


def _reviewed_tags(record: dict) -> list[str] | None:
    tags = record.get("tags")
    if not isinstance(tags, list):
        return None
    return [t.get("tag", "") if isinstance(t, dict) else str(t) for t in tags]


def import_records(conn: sqlite3.Connection, text: str, fmt: str) -> ImportReport:
    report = ImportReport()
    with write(conn):
        for number, record in read_records(text, fmt):
            if isinstance(record, str):
                report.problems.append(record)
                continue
            path = record.get("path")
            photo = photos.by_path(conn, path) if isinstance(path, str) and path else None
            if photo is None:
                report.unmatched.append(str(path) if path else f"line {number}: no path")
                continue
            report.matched += 1
            caption = _reviewed_caption(record)
            if caption is not None and caption.strip():
                photos.set_user_caption(conn, photo.id, caption, approved=True)
                report.captions += 1
            tags = _reviewed_tags(record)
            if tags is not None:
                current = {t for t, _ in photos.tags(conn, photo.id)}
                wanted = {" ".join(t.lower().split()) for t in tags if t.strip()}
                photos.remove_tags(conn, photo.id, current - wanted)
                photos.add_user_tags(conn, photo.id, wanted)
                report.tags += len(wanted)
    return report
