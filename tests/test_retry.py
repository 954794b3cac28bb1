"""`photocap retry [QUERY]`: failed photos go back to the caption queue, all or those a search finds."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from photocap import cli
from photocap.library import db, photos


@pytest.fixture
def library(tmp_path, capsys):
    """A library of six photos: two beach ones and one city one failed, the rest pending or done."""
    for folder, names in {"beach": ["sand", "waves", "kite"], "city": ["bus", "tower", "bridge"]}.items():
        (tmp_path / folder).mkdir()
        for i, name in enumerate(names):
            Image.new("RGB", (24, 16), (40 * i, 90, 30)).save(tmp_path / folder / f"{name}.jpg")
    path = str(tmp_path / "lib.db")
    folders = [str(tmp_path / "beach"), str(tmp_path / "city")]
    assert cli.main(["--db", path, "index", "--no-caption", *folders]) == 0
    capsys.readouterr()
    conn = db.connect(path)
    for name in ("sand", "waves", "bus"):
        photo = photos.by_path(conn, str(next(tmp_path.glob(f"*/{name}.jpg"))))
        photos.set_status(conn, photo.id, "failed", "the model wrote no caption for this photo")
    tower = photos.by_path(conn, str(tmp_path / "city" / "tower.jpg"))
    photos.set_status(conn, tower.id, "done")
    yield path, conn
    conn.close()


def statuses(conn) -> dict[str, str]:
    rows = conn.execute("SELECT path, status FROM photos").fetchall()
    return {path.rsplit("/", 1)[-1].removesuffix(".jpg"): status for path, status in rows}


def test_retry_requeues_every_failed_photo(library, capsys):
    path, conn = library
    assert cli.main(["--db", path, "retry"]) == 0
    assert capsys.readouterr().out.strip() == "requeued 3 failed photos"
    assert statuses(conn) == {"sand": "pending", "waves": "pending", "kite": "pending",
                              "bus": "pending", "tower": "done", "bridge": "pending"}
    errors = conn.execute("SELECT count(*) FROM photos WHERE error IS NOT NULL").fetchone()[0]
    assert errors == 0
    # Back in the queue proper: the caption loop will claim them.
    queued = {row[0] for row in conn.execute("SELECT p.path FROM jobs j JOIN photos p ON p.id = j.photo_id")}
    assert {q.rsplit("/", 1)[-1] for q in queued} >= {"sand.jpg", "waves.jpg", "bus.jpg"}


def test_retry_with_a_query_requeues_only_the_failed_photos_it_finds(library, capsys):
    path, conn = library
    assert cli.main(["--db", path, "retry", "folder:beach"]) == 0
    assert capsys.readouterr().out.strip() == "requeued 2 of 3 failed photos (those matching folder:beach)"
    assert statuses(conn)["bus"] == "failed"
    assert (statuses(conn)["sand"], statuses(conn)["waves"]) == ("pending", "pending")
    assert cli.main(["--db", path, "retry", "bus"]) == 0
    assert "requeued 1 of 1 failed photos" in capsys.readouterr().out
    assert statuses(conn)["bus"] == "pending"


def test_retry_never_requeues_photos_that_did_not_fail(library, capsys):
    path, conn = library
    assert cli.main(["--db", path, "retry", "status:done", "tower"]) == 0
    assert capsys.readouterr().out.strip() == "no failed photos match status:done tower (3 failed in all)"
    assert statuses(conn)["tower"] == "done"


def test_retry_with_nothing_failed_says_so(tmp_path, capsys):
    assert cli.main(["--db", str(tmp_path / "empty.db"), "retry"]) == 0
    assert capsys.readouterr().out.strip() == "no failed photos"


@pytest.mark.timeout(60)
def test_retry_any_text_is_safe(library):
    path, conn = library
    result = subprocess.run([sys.executable, "-m", "photocap", "--db", path, "retry",
                             '"unclosed', "AND", "-"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert statuses(conn)["sand"] == "failed"
