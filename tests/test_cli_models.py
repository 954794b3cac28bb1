"""`index` with captions, `caption`, `ask` and `models`, through the CLI with tiny real models."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
from helpers import run_photocap, start_photocap, tiny_model_env, wait_for_line
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
    from photocap.library import db as libdb
    from photocap.library import photos
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


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--max-new-tokens", "100000000", "from 1 to 512"),
    ("--min-new-tokens", "-1", "from 0 to 512"),
    ("--num-beams", "99", "from 1 to 16"),
    ("--num-captions", "11", "from 1 to 10"),
    ("--temperature", "0", "above 0 and at most 5"),
    ("--top-p", "2", "above 0 and at most 1"),
    ("--repetition-penalty", "0.5", "from 1 to 5"),
    ("--batch-size", "100000", "from 1 to 256"),
])
def test_caption_options_out_of_range_are_a_usage_error_naming_the_range(
        tmp_path, pics, tiny_blip_dir, capsys, option, value, allowed):
    with pytest.raises(SystemExit) as code:
        cli.main(["--db", str(tmp_path / "l.db"), "caption", str(pics / "img0.jpg"),
                  "--model", str(tiny_blip_dir), *FAST, option, value])
    assert code.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert option in last and allowed in last and value in last


def test_shortest_above_longest_on_the_command_line_is_one_line(tmp_path, pics, tiny_blip_dir, capsys):
    code = cli.main(["--db", str(tmp_path / "l.db"), "caption", str(pics / "img0.jpg"),
                     "--model", str(tiny_blip_dir), "--min-new-tokens", "9", "--max-new-tokens", "4"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "min_new_tokens (9)" in err


def test_a_lower_longest_on_the_command_line_lowers_the_saved_shortest(tmp_path, pics, tiny_blip_dir, capsys):
    # The default shortest is 5 tokens: asking for at most 3 must not be an error.
    assert cli.main(["--db", str(tmp_path / "l.db"), "caption", str(pics / "img0.jpg"), "--json",
                     "--model", str(tiny_blip_dir), "--num-beams", "1", "--max-new-tokens", "3"]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert out["captions"] and all(len(c.split()) <= 3 for c in out["captions"])


def photocap(env, *args, timeout=180):
    return run_photocap(env, *args, timeout=timeout)


@pytest.fixture
def env(tmp_path, tiny_blip_dir):
    return tiny_model_env(tmp_path / "lib.db", tiny_blip_dir)


def library_counts(env):
    return json.loads(photocap(env, "status", "--json").stdout)


@pytest.mark.timeout(120)
def test_index_beyond_the_models_length_keeps_photos_queued_with_the_range(pics, env):
    # Within the static range (512) but beyond the tiny model's 64 positions.
    result = photocap(env, "index", str(pics), "--max-new-tokens", "100")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    (waiting,) = [line for line in result.stderr.splitlines() if "wait for captions" in line]
    assert waiting.startswith("photocap: 3 photos wait")
    assert "max_new_tokens" in waiting and "use 1 to 64" in waiting
    counts = library_counts(env)
    assert (counts["pending"], counts["failed"], counts["captioned"]) == (3, 0, 0)


@pytest.mark.timeout(120)
def test_watch_beyond_the_models_length_keeps_running_and_photos_queued(pics, env):
    env = {**env, "PHOTOCAP_MAX_NEW_TOKENS": "100", "PHOTOCAP_SETTLE_SECONDS": "0.3"}
    daemon = start_photocap(env, "watch", str(pics))
    try:
        lines = wait_for_line(daemon, "photos stay queued")     # the daemon logs, then waits to retry
        assert "use 1 to 64" in lines[-1], "".join(lines)
        assert daemon.poll() is None            # still watching
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    counts = library_counts(env)
    assert (counts["pending"], counts["failed"], counts["captioned"]) == (3, 0, 0)


@pytest.mark.timeout(120)
def test_a_model_folder_without_its_tokenizer_leaves_photos_queued(tmp_path, pics, env, tiny_blip_dir):
    broken = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_blip_dir, broken)
    (broken / "tokenizer.json").unlink()
    result = photocap({**env, "PHOTOCAP_MODEL": str(broken)}, "index", str(pics))
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "3 photos wait for captions" in result.stderr and str(broken) in result.stderr
    counts = library_counts(env)
    assert (counts["pending"], counts["failed"]) == (3, 0)
