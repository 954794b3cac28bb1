"""`index` with captions, `caption`, `ask` and `models`, through the CLI with tiny real models."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from photocap import cli

FAST = ["--num-beams", "1", "--min-new-tokens", "2", "--max-new-tokens", "4"]


@pytest.fixture
def pics(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    for i, color in enumerate(["red", "green", "blue"]):
        Image.new("RGB", (40, 30), color).save(root / f"img{i}.jpg")
    return root


def test_index_captions_tags_and_search_finds_them(tmp_path, pics, tiny_blip_dir, capsys):
    db = str(tmp_path / "lib.db")
    assert cli.main(["--db", db, "index", str(pics), "--model", str(tiny_blip_dir), *FAST]) == 0
    capsys.readouterr()
    cli.main(["--db", db, "status", "--json"])
    s = json.loads(capsys.readouterr().out)
    assert (s["captioned"], s["pending"]) == (3, 0)
    cli.main(["--db", db, "search", "img1", "--json"])
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["caption"] and hit["caption"].strip()
    word = hit["caption"].split()[0]
    cli.main(["--db", db, "search", word, "--json", "--limit", "10"])
    assert "img1.jpg" in {os.path.basename(h["path"]) for h in json.loads(capsys.readouterr().out)}
    if hit["tags"]:
        cli.main(["--db", db, "search", f'tag:"{hit["tags"][0]}"', "--json"])
        assert any(h["path"].endswith("img1.jpg") for h in json.loads(capsys.readouterr().out))


def test_caption_files_json_without_touching_a_library(tmp_path, pics, tiny_blip_dir, capsys):
    db = tmp_path / "lib.db"
    files = [str(pics / "img0.jpg"), str(pics / "img2.jpg")]
    assert cli.main(["--db", str(db), "caption", *files, "--json", "--model", str(tiny_blip_dir),
                     "--num-captions", "2", *FAST]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["path"] for o in out] == files
    # Two beams each; a random tiny model may end both in the same words, which are kept once.
    assert all(1 <= len(o["captions"]) <= 2 and all(c.strip() for c in o["captions"]) for o in out)
    assert any(len(o["captions"]) == 2 for o in out)
    cli.main(["--db", str(db), "status", "--json"])
    assert json.loads(capsys.readouterr().out)["photos"] == 0


def test_caption_of_a_broken_image_is_one_line_and_exit_1(tmp_path, tiny_blip_dir):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    result = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "caption",
                             str(bad), "--model", str(tiny_blip_dir), *FAST],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "broken.jpg" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_a_file_and_a_library_photo(tmp_path, pics, tiny_blip_dir, tiny_vqa_dir, capsys):
    db = str(tmp_path / "lib.db")
    opts = ["--model", str(tiny_blip_dir), "--vqa-model", str(tiny_vqa_dir), *FAST]
    assert cli.main(["--db", db, "ask", str(pics / "img0.jpg"), "what", "colour?", "--json", *opts]) == 0
    assert isinstance(json.loads(capsys.readouterr().out)["answer"], str)
    cli.main(["--db", db, "index", "--no-caption", str(pics)])
    assert cli.main(["--db", db, "ask", str(pics / "img0.jpg"), "is it red?", *opts]) == 0
    capsys.readouterr()
    from photocap.library import db as libdb, photos
    conn = libdb.connect(db)
    photo = photos.by_path(conn, str(pics / "img0.jpg"))
    assert [q for q, _ in photos.questions(conn, photo.id)] == ["is it red?"]


def test_ask_about_a_missing_file(tmp_path, tiny_vqa_dir):
    result = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "ask",
                             str(tmp_path / "nope.jpg"), "why?"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "no such image" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_is_a_clear_error(tmp_path, pics):
    result = subprocess.run([sys.executable, "-m", "photocap", "--db", str(tmp_path / "l.db"), "caption",
                             str(pics / "img0.jpg"), "--model", "no-such-model"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1 and "no-such-model" in result.stderr
    assert "Traceback" not in result.stderr


def test_models_lists_presets(tmp_path, capsys):
    assert cli.main(["--db", str(tmp_path / "l.db"), "models", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert {"blip-base", "blip-large", "blip-vqa", "blip2-opt", "blip2-flan-t5"} <= set(models)
    assert models["blip-vqa"]["can_ask"] and models["blip-base"]["can_caption"]
