"""Export and import of captions, tags and questions for review work (JSON Lines or CSV).

An export holds, per photo: path, captions (text, source, model, approved), tags (tag, source),
questions, and the review state (`review`: todo, approved, edited or null; `reviewed_at`, seconds
since the epoch). Importing a reviewed file back makes each reviewed caption the photo's approved user
caption (never overwritten by re-captioning) and its tag list the photo's tags; except that a line
with review `approved` whose caption is one of the photo's machine captions approves that caption
(the photo is then approved, not edited), and one with review `todo` whose caption is a machine
caption leaves the captions as they are.

What `export` writes always imports back exactly:
- CSV cells that a spreadsheet would run as a formula (starting with = + - @ TAB CR) get a leading
  apostrophe (the OWASP rule); so do cells starting with one, so that import can strip exactly one.
- Tags in the CSV `tags` cell are separated by ";"; a ";" or "\\" inside a tag is written "\\;", "\\\\".
- A path that is not valid UTF-8 (see paths.py) is shown with U+FFFD in `path` and given exactly,
  base64 of its bytes, in `path_b64`; import uses `path_b64` when it is there.
- Fields up to MAX_FIELD_CHARS are read (Python's csv stops at 128 KiB by default).

Import reports each bad line (with its number) and imports the rest; `strict=True` imports nothing
when any line is bad.
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
import math
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from photocap.library import paths, photos
from photocap.library.db import LibraryError, write
from photocap.library.search import keyword
from photocap.library.search.query import REVIEW_STATES

CSV_COLUMNS = ["path", "caption", "caption_source", "model", "approved", "tags", "captions", "questions",
               "path_b64", "review", "reviewed_at"]
REVIEWED = frozenset(("approved", "edited"))      # what --approved-only exports
# The longest field or JSON line read; more is reported as a bad line, never read whole.
MAX_FIELD_CHARS = 64 * 1024 * 1024
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ESCAPED_STARTS = (*_FORMULA_STARTS, "'")
_SURROGATE = re.compile("[\ud800-\udfff]")


# ---- CSV cells ---------------------------------------------------------------------------------------

def escape_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula; `unescape_cell` gives `text` back exactly."""
    return "'" + text if text.startswith(_ESCAPED_STARTS) else text


def unescape_cell(cell: str) -> str:
    """The text of a cell `escape_cell` wrote. An apostrophe a person typed ("'twas") is kept: only
    one before a formula character or another apostrophe is ours."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_ESCAPED_STARTS) else cell


def join_tags(tags: Iterable[str]) -> str:
    return "; ".join(t.replace("\\", "\\\\").replace(";", "\\;") for t in tags)


def split_tags(cell: str) -> list[str]:
    """The tags of a `tags` cell: split at ";" except "\\;"; other backslashes are kept as typed."""
    tags, current, chars = [], [], iter(cell)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt in (";", "\\") else ch + nxt)
        elif ch == ";":
            tags.append("".join(current))
            current = []
        else:
            current.append(ch)
    tags.append("".join(current))
    return [t.strip() for t in tags if t.strip()]


# ---- paths -------------------------------------------------------------------------------------------

def exact_path(path: str) -> str | None:
    """base64 of the bytes of a path that is not valid UTF-8 (None for the others)."""
    if paths.to_db(path) == path:
        return None
    return base64.b64encode(os.fsencode(path)).decode("ascii")


def path_from_exact(text: str) -> str:
    """The path `exact_path` encoded (ValueError when `text` is not base64)."""
    try:
        return os.fsdecode(base64.b64decode(text.strip(), validate=True))
    except binascii.Error:
        raise ValueError("'path_b64' is not base64") from None


# ---- export ------------------------------------------------------------------------------------------

def records(conn: sqlite3.Connection, query: str = "", *, approved_only: bool = False) -> Iterator[dict]:
    """One dict per photo matching `query` (everything when empty), in library order; with
    `approved_only`, only the photos whose caption was approved or edited."""
    if query.strip():
        ids = keyword.matching_ids(conn, query)
    else:
        ids = [r[0] for r in conn.execute("SELECT id FROM photos ORDER BY path")]
    for photo_id in ids:
        photo = photos.get(conn, photo_id)
        if photo is None:
            continue
        review, reviewed_at = photos.review_state(conn, photo_id)
        if approved_only and review not in REVIEWED:
            continue
        record = {
            "path": paths.display(photo.path),
            "taken_at": photo.taken_at,
            "status": photo.status,
            "captions": [{"text": c.text, "source": c.source, "model": c.model, "approved": c.approved}
                         for c in photos.captions(conn, photo_id)],
            "tags": [{"tag": t, "source": s} for t, s in photos.tags(conn, photo_id)],
            "questions": [{"question": q, "answer": a} for q, a in photos.questions(conn, photo_id)],
            "review": review,
            "reviewed_at": reviewed_at,
        }
        exact = exact_path(photo.path)
        if exact is not None:
            record["path_b64"] = exact
        yield record


def write_jsonl(rows: Iterable[dict], out: IO[str]) -> int:
    n = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict], out: IO[str]) -> int:
    """One row per photo: the first caption in its own columns (easy to edit in a spreadsheet)."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    n = 0
    for row in rows:
        first = row["captions"][0] if row["captions"] else {}
        cells = {
            "path": row["path"], "caption": first.get("text", ""),
            "caption_source": first.get("source", ""), "model": first.get("model") or "",
            "approved": "yes" if first.get("approved") else "no",
            "tags": join_tags(t["tag"] for t in row["tags"]),
            "captions": json.dumps(row["captions"], ensure_ascii=False),
            "questions": json.dumps(row["questions"], ensure_ascii=False),
            "path_b64": row.get("path_b64") or "",
            "review": row.get("review") or "",
            "reviewed_at": "" if row.get("reviewed_at") is None else repr(row["reviewed_at"]),
        }
        writer.writerow([escape_cell(cells[c]) for c in CSV_COLUMNS])
        n += 1
    return n


# ---- reading a reviewed file -------------------------------------------------------------------------

@dataclass
class Reviewed:
    """One line of a reviewed file: the photo, and its caption and tags when the line has them."""
    line: int
    path: str
    caption: str | None = None
    tags: list[str] | None = None
    review: str | None = None              # todo, approved, edited; None: not given
    reviewed_at: float | None = None

    @property
    def shown(self) -> str:
        return paths.display(self.path)


class BadLine(ValueError):
    """A line that cannot be imported; its text says why, for the user."""


def read_reviewed(source: IO[str], fmt: str) -> Iterator[Reviewed | str]:
    """Each line's Reviewed, or for a bad line "line N: why". `source` is opened with
    newline="" (and errors="surrogateescape", so that a line that is not UTF-8 is reported)."""
    if fmt == "jsonl":
        yield from _read_jsonl(source)
    else:
        yield from _read_csv(source)


def _read_jsonl(source: IO[str]) -> Iterator[Reviewed | str]:
    number = 0
    while True:
        line = source.readline(MAX_FIELD_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_FIELD_CHARS:
            while line and not line.endswith(("\n", "\r")):      # skip the rest, never hold it whole
                line = source.readline(MAX_FIELD_CHARS)
            yield f"line {number}: longer than {MAX_FIELD_CHARS:,} characters"
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}: not JSON ({exc.msg})"
            continue
        try:
            yield _from_json(number, value)
        except BadLine as exc:
            yield f"line {number}: {exc}"


def _from_json(number: int, value: object) -> Reviewed:
    if not isinstance(value, dict):
        raise BadLine("not a JSON object")
    return Reviewed(number, _path_of(value.get("path"), value.get("path_b64")),
                    _text(_json_caption(value), "the caption"), _json_tags(value.get("tags")),
                    _review(value.get("review")), _reviewed_at(value.get("reviewed_at")))


def _review(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value.strip().lower() not in REVIEW_STATES:
        raise BadLine("'review' must be one of " + ", ".join(REVIEW_STATES))
    return value.strip().lower()


def _reviewed_at(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        at = float(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else None
    except ValueError:
        at = None
    if at is None or not math.isfinite(at) or at < 0:
        raise BadLine("'reviewed_at' must be a time in seconds since 1970")
    return at


def _json_caption(value: dict) -> object:
    if value.get("caption") is not None:
        return value["caption"]
    caps = value.get("captions")
    if caps is None or caps == []:
        return None
    if not isinstance(caps, list):
        raise BadLine("'captions' must be a list")
    # The user's caption, else the approved one, else the first.
    chosen = next((c for c in caps if isinstance(c, dict) and c.get("source") == "user"),
                  next((c for c in caps if isinstance(c, dict) and c.get("approved") is True), caps[0]))
    return chosen.get("text") if isinstance(chosen, dict) else chosen


def _json_tags(tags: object) -> list[str] | None:
    if tags is None:
        return None
    if not isinstance(tags, list):
        raise BadLine("'tags' must be a list of tags")
    out = []
    for i, tag in enumerate(tags, start=1):
        text = tag.get("tag") if isinstance(tag, dict) else tag
        if not isinstance(text, str):
            raise BadLine(f"tag {i} is not text")
        out.append(_utf8(text, f"tag {i}"))
    return out


def _read_csv(source: IO[str]) -> Iterator[Reviewed | str]:
    old_limit = csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        reader = csv.reader(source)
        header = next(reader, None)
        columns = [c.strip().lstrip("\ufeff").lower() for c in header or []]
        if "path" not in columns and "path_b64" not in columns:
            raise LibraryError("the CSV file has no 'path' column")
        while True:
            number = reader.line_num + 1             # where the row starts (a cell may span lines)
            try:
                row = next(reader, None)
            except csv.Error as exc:
                # Past a broken field the reader cannot know where rows start again.
                why = (f"a cell is longer than {MAX_FIELD_CHARS:,} characters" if "field limit" in str(exc)
                       else f"not valid CSV ({exc})")
                yield f"line {number}: {why}; the rest of the file was not read"
                return
            if row is None:
                return
            if not any(cell.strip() for cell in row):
                continue
            cells = {c: unescape_cell(v) for c, v in zip(columns, row, strict=False)}   # short rows: fewer
            try:
                yield _from_csv(number, cells)
            except BadLine as exc:
                yield f"line {number}: {exc}"
    finally:
        csv.field_size_limit(old_limit)


def _from_csv(number: int, cells: dict[str, str]) -> Reviewed:
    path = _path_of(cells.get("path"), cells.get("path_b64") or None)
    caption = cells.get("caption")
    tags = cells.get("tags")
    return Reviewed(number, path, _text(caption, "the caption"),
                    None if tags is None else [_utf8(t, "a tag") for t in split_tags(tags)],
                    _review(cells.get("review")), _reviewed_at(cells.get("reviewed_at")))


def _path_of(path: object, exact: object) -> str:
    if exact is not None:
        if not isinstance(exact, str):
            raise BadLine("'path_b64' must be text")
        try:
            return path_from_exact(exact)
        except ValueError as exc:
            raise BadLine(str(exc)) from None
    if not isinstance(path, str) or not path.strip():
        raise BadLine("no path")
    return path          # undecodable bytes arrive as surrogates: they name such a file exactly


def _text(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadLine(f"{what} must be text")
    return _utf8(value, what)


def _utf8(value: str, what: str) -> str:
    """`value`, unless it holds bytes that were not UTF-8 (surrogates; SQLite cannot store them)."""
    if _SURROGATE.search(value):
        raise BadLine(f"{what} is not UTF-8 text (save the file as UTF-8)")
    return value


# ---- importing ---------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    imported: int = 0                  # photos changed
    captions: int = 0
    tags: int = 0
    problems: list[str] = field(default_factory=list)    # "line N: why", one per skipped line
    committed: bool = True             # False: strict, and a line was bad; nothing was imported


class _StrictRollback(Exception):
    """Raised inside the write transaction so that it rolls back (strict import, bad lines)."""


def import_records(conn: sqlite3.Connection, source: IO[str], fmt: str, *,
                   strict: bool = False) -> ImportReport:
    """Import a reviewed file: each good line is applied, each bad one reported; with `strict`,
    any bad line means nothing is imported. One transaction: readers see all of it or none."""
    report = ImportReport()
    try:
        with write(conn):
            _import_lines(conn, read_reviewed(source, fmt), report)
            if strict and report.problems:
                raise _StrictRollback
    except _StrictRollback:
        report.committed = False
        report.imported = report.captions = report.tags = 0
    return report


def _import_lines(conn: sqlite3.Connection, items: Iterable[Reviewed | str], report: ImportReport) -> None:
    seen: dict[int, int] = {}      # photo id -> the line it was imported from
    for item in items:
        if isinstance(item, str):
            report.problems.append(item)
            continue
        photo = photos.by_path(conn, item.path)
        if photo is None:
            report.problems.append(f"line {item.line}: not in the library: {item.shown}")
            continue
        if photo.id in seen:
            report.problems.append(f"line {item.line}: {item.shown} is also on line {seen[photo.id]};"
                                   " this line was skipped")
            continue
        seen[photo.id] = item.line
        try:
            with _savepoint(conn):
                captions, tags = _apply(conn, photo.id, item)
        except (LibraryError, sqlite3.IntegrityError) as exc:
            report.problems.append(f"line {item.line}: {exc}")
            continue
        report.imported += 1
        report.captions += captions
        report.tags += tags


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """One line's changes: undone alone when the line fails, inside the import's transaction."""
    conn.execute("SAVEPOINT import_line")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO import_line")
        conn.execute("RELEASE import_line")
        raise
    conn.execute("RELEASE import_line")


def _machine_caption(conn: sqlite3.Connection, photo_id: int, item: Reviewed) -> photos.Caption | None:
    """The machine caption a line with review approved or todo names by its text (None: the line's
    caption is the user's own, as before review states)."""
    if item.review not in ("approved", "todo"):
        return None
    return next((c for c in photos.captions(conn, photo_id)
                 if c.source == "auto" and c.text == item.caption), None)


def _apply(conn: sqlite3.Connection, photo_id: int, item: Reviewed) -> tuple[int, int]:
    """(captions, tags) set from one reviewed line."""
    captions = tags = 0
    if item.caption is not None and item.caption.strip():
        machine = _machine_caption(conn, photo_id, item)
        if machine is None:
            photos.set_user_caption(conn, photo_id, item.caption, approved=True)
            captions = 1
        elif item.review == "approved":
            if not machine.approved:
                photos.approve_caption(conn, machine.id, at=item.reviewed_at)
            captions = 1
    if item.tags is not None:
        current = {t for t, _ in photos.tags(conn, photo_id)}
        wanted = {" ".join(t.lower().split()) for t in item.tags if t.strip()}
        photos.remove_tags(conn, photo_id, current - wanted)
        photos.add_user_tags(conn, photo_id, wanted)
        tags = len(wanted)
    return captions, tags
