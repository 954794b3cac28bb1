"""Text the commands print comes from files, metadata and users: it is shown, never obeyed.

Every test runs the real CLI on a real library built from real files; the hostile text travels the
way it would for a user (an EXIF description, a file or folder name, a command-line argument).
"""

from __future__ import annotations

import os
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from photocap import cli
from photocap.console import Progress, printable, warn
from photocap.library import db as library_db
from photocap.library import photos

ESC = "\x1b"
# An OSC title change, a colour, a screen clear and a forged next line (EXIF text is ASCII).
HOSTILE = f"{ESC}]0;owned\x07{ESC}[31mred{ESC}[2J\r\nFORGED /etc/passwd"


def _one_line_each(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") for ch in line), line
    return lines


@pytest.mark.parametrize("raw, shown", [
    ("plain café 😀 👨‍👩‍👧 日本", "plain café 😀 👨‍👩‍👧 日本"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    (f"{ESC}[31mred", "\\x1b[31mred"),
    ("\x00\x07\x7f\x85\x9b", "\\x00\\x07\\x7f\\x85\\x9b"),
    ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
    ("\u202egpj.exe", "\\u202egpj.exe"),
    ("bad\udcffbyte", "bad\\udcffbyte"),
])
def test_printable_shows_controls_as_visible_escapes(raw, shown):
    assert printable(raw) == shown


@given(st.text())
def test_printable_is_always_one_encodable_line(text):
    shown = printable(text)
    assert len(shown.splitlines()) <= 1
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in shown)
    shown.encode("utf-8")                                   # print never raises on it
    assert printable(shown) == shown                        # printing twice changes nothing


@pytest.fixture
def hostile_library(tmp_path):
    """A library with a photo whose EXIF description is hostile and one whose name is."""
    root = tmp_path / "pics"
    root.mkdir()
    exif = Image.Exif()
    exif[0x010E] = "a dog on the beach " + HOSTILE          # ImageDescription: a person's caption
    Image.new("RGB", (16, 12), "yellow").save(root / "exif.jpg", exif=exif)
    # A C1 CSI and a bidi override ("gpj.exe" would show as "exe.jpg") in a file name.
    Image.new("RGB", (16, 12), "blue").save(root / f"beach{ESC}[2J\x9b1m\u202egpj.exe\nFORGED.jpg")
    db = str(tmp_path / "lib.db")
    assert cli.main(["--db", db, "index", "--no-caption", str(root)]) == 0
    conn = library_db.connect(db)
    exif_photo = photos.by_path(conn, str(root / "exif.jpg"))
    photos.add_user_tags(conn, exif_photo.id, [f"{ESC}[5mblink"])    # a tag typed or imported
    return db, root


def test_search_shows_exif_escapes_and_keeps_each_result_on_its_lines(hostile_library, capsys):
    db, root = hostile_library
    capsys.readouterr()
    assert cli.main(["--db", db, "search", "beach", "OR", "forged", "OR", "exif"]) == 0
    out = capsys.readouterr().out
    assert ESC not in out and "\x9b" not in out and "\u202e" not in out
    lines = _one_line_each(out)
    assert len(lines) == 4                                  # two hits, path line and detail line each
    paths = [line for line in lines if not line.startswith("    ")]
    assert sorted(paths) == sorted([str(root / "exif.jpg"),
                                    str(root) + "/beach\\x1b[2J\\x9b1m\\u202egpj.exe\\nFORGED.jpg"])
    # What the scan kept of the description (it may drop ESC and BEL itself), on one line.
    conn = library_db.connect(db)
    stored = photos.captions(conn, photos.by_path(conn, str(root / "exif.jpg")).id)[0].text
    assert "\r\nFORGED /etc/passwd" in stored
    shown = "".join({"\r": "\\r", "\n": "\\n", ESC: "\\x1b", "\x07": "\\x07"}.get(c, c) for c in stored)
    assert f"    {shown}  [\\x1b[5mblink]" in lines


def test_search_json_keeps_the_text_exact(hostile_library, capsys):
    import json
    db, root = hostile_library
    capsys.readouterr()
    assert cli.main(["--db", db, "search", "exif", "--json"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)
    conn = library_db.connect(db)
    stored = photos.captions(conn, photos.by_path(conn, str(root / "exif.jpg")).id)[0].text
    assert hit["caption"] == stored and stored.endswith("\r\nFORGED /etc/passwd")
    assert hit["tags"] == [f"{ESC}[5mblink"]


def test_folder_names_cannot_forge_index_and_status_lines(tmp_path, capsys):
    root = tmp_path / f"pics{ESC}]0;t\x07\nfolder: FORGED"
    root.mkdir()
    Image.new("RGB", (16, 12), "red").save(root / "a.jpg")
    db = str(tmp_path / "lib.db")
    assert cli.main(["--db", db, "index", "--no-caption", str(root)]) == 0
    index_out = capsys.readouterr().out
    assert ESC not in index_out and len(_one_line_each(index_out)) == 1
    assert cli.main(["--db", db, "status"]) == 0
    lines = _one_line_each(capsys.readouterr().out)
    assert [line for line in lines if line.startswith("folder:")] == [
        f"folder: {tmp_path}/pics\\x1b]0;t\\x07\\nfolder: FORGED"]


def test_warnings_and_errors_are_one_visible_line(tmp_path, capsys):
    db = str(tmp_path / "lib.db")
    gone = str(tmp_path / f"gone{ESC}[2J\nphotocap: all good")
    assert cli.main(["--db", db, "index", "--no-caption", gone]) == 1   # a warning or an error
    captured = capsys.readouterr()
    assert ESC not in captured.err + captured.out
    assert all(line.startswith("photocap: ") for line in _one_line_each(captured.err))
    assert "gone\\x1b[2J\\nphotocap: all good" in captured.err
    _one_line_each(captured.out)
    assert cli.main(["--db", db, "import", str(tmp_path / f"no{ESC}[2J\nsuch.csv")]) == 1   # an error
    (line,) = _one_line_each(capsys.readouterr().err)
    assert line.startswith("photocap: error: ") and line.endswith("no\\x1b[2J\\nsuch.csv")
    warn(f"caption of x: {ESC}[31m\nFORGED")
    assert capsys.readouterr().err == "photocap: caption of x: \\x1b[31m\\nFORGED\n"


@pytest.mark.timeout(30)
def test_progress_on_a_real_terminal_shows_names_escaped(tmp_path):
    master, slave = os.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=False) as tty:
            progress = Progress("scanning", stream=tty, interval=0)
            assert progress.enabled
            progress(7, f"/pics/evil{ESC}]0;owned\x07\n.jpg")
            progress.done()
        written = b""
        while b"\x1b[K" not in written.rpartition(b"scanning")[2]:    # until done() arrives
            written += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    text = written.decode("utf-8")
    # Our own redraw codes only: "\r ESC [K" before each line, nothing from the name.
    assert text.replace("\r\x1b[K", "").count(ESC) == 0
    assert "scanning: 7 files /pics/evil\\x1b]0;owned\\x07\\n.jpg" in text


@pytest.mark.timeout(120)
def test_caption_and_ask_print_file_names_escaped(tmp_path, tiny_blip_dir, capsys):
    good = tmp_path / f"good{ESC}]0;owned\x07\nFORGED: a caption.jpg"
    Image.new("RGB", (40, 30), "red").save(good, format="JPEG")
    bad = tmp_path / f"bad{ESC}[2J\nphotocap: fine.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    fast = ["--num-beams", "1", "--min-new-tokens", "2", "--max-new-tokens", "4"]
    assert cli.main(["--db", str(tmp_path / "l.db"), "caption", str(good), str(bad),
                     "--model", str(tiny_blip_dir), *fast]) == 1
    captured = capsys.readouterr()
    (result,) = _one_line_each(captured.out)
    assert result.startswith(f"{tmp_path}/good\\x1b]0;owned\\x07\\nFORGED: a caption.jpg: ")
    (problem,) = _one_line_each(captured.err)
    assert problem.startswith(f"photocap: {tmp_path}/bad\\x1b[2J\\nphotocap: fine.jpg: ")
    missing = str(tmp_path / f"no{ESC}[2J\nx.jpg")
    assert cli.main(["--db", str(tmp_path / "l.db"), "ask", missing, "what?"]) == 1
    (line,) = _one_line_each(capsys.readouterr().err)
    assert line == f"photocap: error: no such image: {tmp_path}/no\\x1b[2J\\nx.jpg"


@pytest.mark.timeout(240)
def test_watch_log_lines_cannot_be_forged_by_file_names(tmp_path, tiny_blip_dir):
    import re
    import subprocess
    import sys
    pics = tmp_path / "pics"
    pics.mkdir()
    Image.new("RGB", (40, 30), "red").save(pics / "plain.jpg")
    Image.new("RGB", (40, 30), "blue").save(pics / f"p{ESC}[2J\n2026-01-01 00:00:00 ERROR forged.jpg",
                                            format="JPEG")
    env = {**os.environ, "PHOTOCAP_DB": str(tmp_path / "lib.db"), "PHOTOCAP_MODEL": str(tiny_blip_dir),
           "PHOTOCAP_NUM_BEAMS": "1", "PHOTOCAP_MIN_NEW_TOKENS": "2", "PHOTOCAP_MAX_NEW_TOKENS": "4"}
    result = subprocess.run([sys.executable, "-m", "photocap", "watch", str(pics), "--once"], env=env,
                            capture_output=True, text=True, timeout=200)
    assert result.returncode == 0, result.stderr
    lines = _one_line_each(result.stderr)
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ |^photocap: ")
    assert [line for line in lines if not stamp.match(line)] == []
    assert not [line for line in lines if line.startswith("2026-01-01 00:00:00 ERROR")]
    assert any("p\\x1b[2J\\n2026-01-01 00:00:00 ERROR forged.jpg" in line for line in lines), lines
