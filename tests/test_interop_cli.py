"""export, import, xmp write and doctor through the CLI, on a real library."""

import csv
import io
import json
import os
import shutil
import subprocess

import pytest
from PIL import Image

from photocap import cli
from photocap.library import db, photos


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    for name, color in [("beach.jpg", "yellow"), ("forest.jpg", "green"), ("night.png", "black")]:
        Image.new("RGB", (32, 24), color).save(root / name)
    path = str(tmp_path / "lib.db")
    assert cli.main(["--db", path, "index", "--no-caption", str(root)]) == 0
    conn = db.connect(path)
    captions = {"beach.jpg": "a dog running on the beach", "forest.jpg": "a path through a green forest"}
    for name, text in captions.items():
        p = photos.by_path(conn, str(root / name))
        photos.set_auto_captions(conn, p.id, [text], model="blip-base", tags=text.split()[-1:])
    beach_id = photos.by_path(conn, str(root / "beach.jpg")).id
    photos.add_question(conn, beach_id, "is it sunny?", "yes", "blip-vqa")
    return path, root, conn


def test_export_jsonl_and_csv(library, capsys):
    path, root, _ = library
    capsys.readouterr()
    assert cli.main(["--db", path, "export", "beach"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["path"] == str(root / "beach.jpg")
    assert row["captions"] == [{"text": "a dog running on the beach", "source": "auto",
                                "model": "blip-base", "approved": False}]
    assert row["tags"] == [{"tag": "beach", "source": "auto"}]
    assert row["questions"] == [{"question": "is it sunny?", "answer": "yes"}]
    assert cli.main(["--db", path, "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["caption"] for r in rows] == ["a dog running on the beach", "a path through a green forest", ""]


def test_reviewed_export_comes_back_as_approved_user_captions(library, tmp_path, capsys):
    path, root, conn = library
    out = tmp_path / "review.jsonl"
    assert cli.main(["--db", path, "export", "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows[0]["captions"][0]["text"] = "our dog Rex running on the beach"
    rows[0]["tags"] = [{"tag": "rex"}, {"tag": "beach"}]
    rows.append({"path": str(root / "not-there.jpg"), "caption": "x"})
    out.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(out)]) == 1          # unmatched and broken lines reported
    captured = capsys.readouterr()
    assert "imported 3 photos" in captured.out and "2 lines skipped" in captured.out
    assert "not-there.jpg" in captured.err and "line 5" in captured.err
    beach = photos.by_path(conn, str(root / "beach.jpg"))
    caps = photos.captions(conn, beach.id)
    assert (caps[0].text, caps[0].source, caps[0].approved) == (
        "our dog Rex running on the beach", "user", True)
    assert dict(photos.tags(conn, beach.id)) == {"rex": "user", "beach": "user"}
    photos.set_auto_captions(conn, beach.id, ["a new auto caption"], model="m", tags=["dog"])
    assert photos.captions(conn, beach.id)[0].text == "our dog Rex running on the beach"


def test_csv_round_trip_with_spreadsheet_edits(library, tmp_path, capsys):
    path, root, conn = library
    out = tmp_path / "review.csv"
    cli.main(["--db", path, "export", "--format", "csv", "--output", str(out)])
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    rows[1]["caption"] = "pine forest in the fog"
    rows[1]["tags"] = "forest; fog"
    with out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=rows[0].keys())
        w.writeheader()
        w.writerows(rows)
    assert cli.main(["--db", path, "import", str(out)]) == 0
    forest = photos.by_path(conn, str(root / "forest.jpg"))
    assert photos.captions(conn, forest.id)[0].text == "pine forest in the fog"
    assert sorted(t for t, _ in photos.tags(conn, forest.id)) == ["fog", "forest"]


@pytest.mark.skipif(shutil.which("exiftool") is None and not os.environ.get("CI"), reason="no exiftool")
def test_xmp_write_is_read_by_exiftool(library, capsys):
    path, root, conn = library
    assert cli.main(["--db", path, "xmp", "write", "--naming", "lightroom"]) == 0
    assert "wrote XMP for 2 photos" in capsys.readouterr().out
    out = subprocess.run(["exiftool", "-j", "-XMP-dc:Description", "-XMP-dc:Subject",
                          str(root / "beach.xmp")], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)[0]
    assert got["Description"] == "a dog running on the beach" and got["Subject"] == "beach"


def test_xmp_into_files_does_not_requeue_the_photo(library, capsys):
    path, root, conn = library
    before = Image.open(root / "beach.jpg").tobytes()
    assert cli.main(["--db", path, "xmp", "write", "beach", "--into-files"]) == 0
    assert Image.open(root / "beach.jpg").tobytes() == before
    assert cli.main(["--db", path, "index", "--no-caption", str(root)]) == 0
    assert photos.by_path(conn, str(root / "beach.jpg")).status == "done"


def test_doctor_shows_versions_and_problems(tmp_path, capsys):
    assert cli.main(["--db", str(tmp_path / "l.db"), "doctor"]) == 0
    out = capsys.readouterr().out
    for word in ("python", "torch", "transformers", "Qt", "SQLite", "FTS5 yes", "device", "library", "cache"):
        assert word in out, word
    assert "photocap models pull blip-base" in out          # no weights here: says how to get them
