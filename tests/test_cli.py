"""The command line, in process and as users run it (a real subprocess)."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from photocap import cli
from photocap.library import db as libdb
from photocap.library import photos


def run(*args):
    return subprocess.run([sys.executable, "-m", "photocap", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


@pytest.fixture
def pics(tmp_path):
    root = tmp_path / "pics"
    (root / "2023").mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(root / "2023" / "beach day.jpg")
    Image.new("RGB", (40, 30), "blue").save(root / "kitchen.png")
    return root


def test_no_command_without_a_display_prints_help(capsys, monkeypatch):
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main([]) == 0
    out = capsys.readouterr()
    assert "usage: photocap" in out.out and "no display" in out.err


def test_gui_without_a_display_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    libdb.connect(tmp_path / "l.db").close()
    result = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "gui"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1 and "no display" in result.stderr and result.stderr.count("\n") == 1


def test_index_status_and_search_json(tmp_path, pics, capsys):
    db = str(tmp_path / "lib.db")
    assert cli.main(["--db", db, "index", "--no-caption", str(pics)]) == 0
    capsys.readouterr()
    assert cli.main(["--db", db, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {k: status[k] for k in ("photos", "captioned", "pending", "failed", "missing")} == \
        {"photos": 2, "captioned": 0, "pending": 2, "failed": 0, "missing": 0}
    assert status["db"] == db and status["roots"][0]["path"] == str(pics)
    assert cli.main(["--db", db, "search", "beach", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [os.path.basename(h["path"]) for h in hits] == ["beach day.jpg"]
    assert set(hits[0]) >= {"path", "caption", "tags", "taken_at", "score"}


def test_search_human_output_and_no_results(tmp_path, pics, capsys):
    db = str(tmp_path / "lib.db")
    cli.main(["--db", db, "index", "--no-caption", str(pics)])
    capsys.readouterr()
    cli.main(["--db", db, "search", "kitchen"])
    assert "kitchen.png" in capsys.readouterr().out
    cli.main(["--db", db, "search", "zebra"])
    assert "no photos match" in capsys.readouterr().out


def test_env_chooses_the_library(tmp_path, pics, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOCAP_DB", str(tmp_path / "env.db"))
    assert cli.main(["index", "--no-caption", str(pics)]) == 0
    assert (tmp_path / "env.db").exists()


@pytest.mark.parametrize("query", ['"unbalanced', "-", "AND", "NEAR(", "col:x", "*", "^", "(((",
                                   "\U0001F600"])
def test_hostile_queries_exit_cleanly(tmp_path, pics, capsys, query):
    db = str(tmp_path / "lib.db")
    cli.main(["--db", db, "index", "--no-caption", str(pics)])
    capsys.readouterr()
    assert cli.main(["--db", db, "search", query, "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


def test_errors_are_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("not sqlite" * 200)
    result = run("--db", str(bad), "status")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "photocap: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2():
    result = run("search", "x", "--limit", "0")
    assert result.returncode == 2 and "at least 1" in result.stderr


def test_offline_root_is_reported_and_exits_1(tmp_path):
    result = run("--db", str(tmp_path / "lib.db"), "index", "--no-caption", str(tmp_path / "nope"))
    assert result.returncode == 1 and "offline" in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices
    for name, p in sub.choices.items():
        assert p.format_help().strip(), name
        assert any(a.help for a in sub._choices_actions if a.dest == name), f"{name} has no help line"


def test_a_new_library_is_announced_once_with_its_place(tmp_path, capsys):
    path = tmp_path / "new" / "lib.db"
    assert cli.main(["--db", str(path), "status"]) == 0
    assert capsys.readouterr().err == f"photocap: created a new library at {path}\n"
    assert cli.main(["--db", str(path), "status"]) == 0
    assert capsys.readouterr().err == ""


def _library(path, n=3):
    conn = libdb.connect(path)
    for i in range(n):
        photos.add(conn, f"/x/{i}.jpg", photos.FileInfo(1, 1.0, f"h{i}"), None)
    return conn


def test_a_read_only_library_is_named_as_such(tmp_path):
    path = tmp_path / "lib.db"
    _library(path).close()
    ro = libdb.connect(path, readonly=True)
    with pytest.raises(Exception) as err:
        libdb.set_setting(ro, "a", "1")               # SQLite's own error, as a read-only mount gives
    assert cli.describe(err.value, db=path) == \
        f"the library {path} is read-only: photocap cannot save anything in it (check the file's permissions)"


def test_a_full_disk_is_named_as_such(tmp_path):
    path = tmp_path / "lib.db"
    conn = _library(path)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")   # the file cannot grow: what a full disk does
    with pytest.raises(Exception) as err:
        for i in range(3, 5000):
            photos.add(conn, f"/x/{i}.jpg", photos.FileInfo(1, 1.0, f"h{i}"), None)
    assert cli.describe(err.value, db=path) == \
        f"the disk holding the library {path} is full: free some space and try again (nothing was lost)"


def test_a_locked_library_is_named_as_such(tmp_path):
    path = tmp_path / "lib.db"
    _library(path).close()
    holder = libdb.connect(path)
    holder.execute("BEGIN IMMEDIATE")
    waiter = libdb.connect(path)
    waiter.execute("PRAGMA busy_timeout = 0")
    with pytest.raises(Exception) as err:
        libdb.set_setting(waiter, "a", "1")
    holder.execute("ROLLBACK")
    assert cli.describe(err.value, db=path) == \
        f"the library {path} is busy: another program kept it locked; try again in a moment"


def test_a_damaged_library_is_one_line_that_says_so(tmp_path):
    path = tmp_path / "lib.db"
    _library(path, 2000).close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page:len(data) - page] = bytes(len(data) - 3 * page)   # pages zeroed, header intact
    path.write_bytes(bytes(data))
    result = run("--db", str(path), "search", "x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"photocap: error: the library {path} is damaged")
    assert result.stderr.count("\n") == 1


FAST = ["--num-beams", "1", "--min-new-tokens", "2", "--max-new-tokens", "4"]


@pytest.mark.timeout(150)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_caption_and_ask_refuse_a_fifo_named_like_a_photo(tmp_path, pics, tiny_blip_dir, tiny_vqa_dir):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)                              # no writer: a plain open() would wait forever
    good = pics / "kitchen.png"
    libdb.connect(tmp_path / "l.db").close()
    models = ["--model", str(tiny_blip_dir), "--vqa-model", str(tiny_vqa_dir), *FAST]
    caption = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "caption",
                              str(fifo), str(good), *models], capture_output=True, text=True, timeout=60)
    assert caption.returncode == 1 and caption.stdout.startswith(f"{good}: ")
    assert caption.stderr.splitlines()[-1] == f"photocap: {fifo}: not a file: a named pipe (FIFO)"
    ask = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "ask",
                          str(fifo), "what is it?", *models], capture_output=True, text=True, timeout=60)
    assert ask.returncode == 1
    assert ask.stderr == f"photocap: error: {fifo}: not a file: a named pipe (FIFO)\n"


def test_durations_read_like_a_person_would_say_them():
    from photocap.library.humanize import duration
    assert [duration(s) for s in (0, 45.9, 89, 90, 600, 5399, 5400, 9000)] == \
        ["0 s", "45 s", "89 s", "2 min", "10 min", "90 min", "1.5 h", "2.5 h"]
