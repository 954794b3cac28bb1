"""`photocap folders` and `index` on nested and shared folders, as users run them (real processes)."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from helpers import make_photos as shared_make_photos
from helpers import run_photocap
from PIL import Image

from photocap import cli


def make_photos(folder, n, shade=0):
    return shared_make_photos(folder, n, shade=shade, size=(24, 16), name="p{}.jpg")


def photocap(db, *args, timeout=120):
    return run_photocap(None, "--db", str(db), *args, timeout=timeout)


def folders_json(db, capsys):
    assert cli.main(["--db", str(db), "folders", "list", "--json"]) == 0
    keys = ("path", "online", "photos", "missing")
    return [{k: f[k] for k in keys} for f in json.loads(capsys.readouterr().out)]


def test_index_a_folder_then_its_parent_then_again(tmp_path, capsys):
    pictures = tmp_path / "Pictures"
    make_photos(pictures / "Trip", 3)
    make_photos(pictures, 1, shade=200)
    db = tmp_path / "lib.db"
    assert cli.main(["--db", str(db), "index", "--no-caption", str(pictures / "Trip")]) == 0
    for _ in range(2):
        assert cli.main(["--db", str(db), "index", "--no-caption", str(pictures)]) == 0
    out = capsys.readouterr()
    assert "error" not in out.err and out.out.splitlines()[-1].startswith(f"{pictures}: 4 photos, 0 new")
    assert folders_json(db, capsys) == [{"path": str(pictures), "online": True, "photos": 4, "missing": 0}]


def test_folders_add_merges_and_says_so(tmp_path, capsys):
    db = tmp_path / "lib.db"
    (tmp_path / "P" / "a").mkdir(parents=True)
    assert cli.main(["--db", str(db), "folders", "add", str(tmp_path / "P" / "a")]) == 0
    assert cli.main(["--db", str(db), "folders", "add", str(tmp_path / "P")]) == 0
    assert cli.main(["--db", str(db), "folders", "add", str(tmp_path / "P" / "a")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"added {tmp_path / 'P'} (it takes in {tmp_path / 'P' / 'a'})"
    assert out[2] == f"{tmp_path / 'P' / 'a'} is already in the library folder {tmp_path / 'P'}"
    assert [f["path"] for f in folders_json(db, capsys)] == [str(tmp_path / "P")]


@pytest.mark.parametrize("command", ["index", "folders add"])
@pytest.mark.parametrize("what", ["file", "nothing"])
def test_a_file_or_a_missing_path_is_refused_with_one_line(tmp_path, command, what):
    target = tmp_path / "photo.jpg"
    if what == "file":
        Image.new("RGB", (8, 8)).save(target)
    result = photocap(tmp_path / "lib.db", *command.split(), str(target))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and str(target) in errors[0]
    listed = photocap(tmp_path / "lib.db", "folders", "--json")
    assert json.loads(listed.stdout) == []           # not kept as an "offline" folder


def test_remove_keeps_captions_until_forget(tmp_path, capsys):
    db = tmp_path / "lib.db"
    make_photos(tmp_path / "P", 2)
    assert cli.main(["--db", str(db), "index", "--no-caption", str(tmp_path / "P")]) == 0
    conn = sqlite3.connect(db)
    pid = conn.execute("SELECT id FROM photos ORDER BY id LIMIT 1").fetchone()[0]
    with conn:
        conn.execute("INSERT INTO captions (photo_id, text, source, approved, created_at)"
                     " VALUES (?, 'my own words', 'user', 1, 0)", (pid,))
    conn.close()
    assert cli.main(["--db", str(db), "folders", "remove", str(tmp_path / "P")]) == 0
    assert "2 photos keep their captions" in capsys.readouterr().out
    assert folders_json(db, capsys) == []
    assert cli.main(["--db", str(db), "search", "own words", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []                # out of search
    assert cli.main(["--db", str(db), "index", "--no-caption", str(tmp_path / "P")]) == 0
    capsys.readouterr()
    assert cli.main(["--db", str(db), "search", "own words", "--json"]) == 0
    assert [h["caption"] for h in json.loads(capsys.readouterr().out)] == ["my own words"]
    assert cli.main(["--db", str(db), "folders", "remove", "--forget", str(tmp_path / "P")]) == 0
    assert "forgot its 2 photos" in capsys.readouterr().out
    assert cli.main(["--db", str(db), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["photos"] == 0
    assert len(os.listdir(tmp_path / "P")) == 2                      # the files are untouched


def test_removing_what_is_not_a_library_folder_is_one_line(tmp_path):
    (tmp_path / "P" / "sub").mkdir(parents=True)
    photocap(tmp_path / "lib.db", "folders", "add", str(tmp_path / "P"))
    result = photocap(tmp_path / "lib.db", "folders", "remove", str(tmp_path / "P" / "sub"))
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "not a library folder" in result.stderr
    assert f"inside the library folder {tmp_path / 'P'}" in result.stderr


@pytest.mark.timeout(600)
@pytest.mark.parametrize("overlap", ["same", "nested"])
def test_two_index_runs_at_once_both_succeed(tmp_path, overlap):
    make_photos(tmp_path / "P" / "a", 150)
    make_photos(tmp_path / "P" / "b", 150, shade=100)
    folders = [tmp_path / "P", tmp_path / "P" / ("a" if overlap == "nested" else "")]
    for attempt in range(4):
        db = tmp_path / f"lib{attempt}.db"
        runs = [subprocess.Popen([sys.executable, "-m", "photocap", "--db", str(db), "index", "--no-caption",
                                  str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for folder in folders]
        results = [(run.wait(timeout=240), run.communicate()) for run in runs]
        for code, (out, err) in results:
            assert code == 0 and "error" not in err, (attempt, out, err)
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*), count(DISTINCT path) FROM photos").fetchone() == (300, 300)
        assert conn.execute("SELECT path FROM roots").fetchall() == [(str(tmp_path / "P"),)]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
