"""Review state (todo, approved, edited): the review: filter, status counts, `photocap review`."""

import csv
import json
import shutil
import subprocess

import pytest
from PIL import Image

from photocap import cli
from photocap.library import db, photos
from photocap.library.search import keyword


@pytest.fixture
def library(tmp_path):
    """Four photos: two with machine captions, one with none, one the user captioned."""
    root = tmp_path / "pics"
    root.mkdir()
    names = ["beach.jpg", "forest.jpg", "night.png", "party.jpg"]
    for name in names:
        Image.new("RGB", (32, 24), "yellow").save(root / name)
    path = str(tmp_path / "lib.db")
    assert cli.main(["--db", path, "index", "--no-caption", str(root)]) == 0
    conn = db.connect(path)
    ids = {name: photos.by_path(conn, str(root / name)).id for name in names}
    photos.set_auto_captions(conn, ids["beach.jpg"], ["a dog on the beach", "a brown dog"], model="m")
    photos.set_auto_captions(conn, ids["forest.jpg"], ["a green forest"], model="m")
    photos.set_auto_captions(conn, ids["party.jpg"], ["people at a party"], model="m")
    photos.set_user_caption(conn, ids["party.jpg"], "our party")
    return path, ids, conn


def names_for(conn, ids, query):
    by_id = {v: k for k, v in ids.items()}
    return sorted(by_id[i] for i, _ in keyword.ranked_ids(conn, query, limit=-1))


def test_review_filters_and_negation(library):
    _, ids, conn = library
    assert names_for(conn, ids, "review:todo") == ["beach.jpg", "forest.jpg"]
    assert names_for(conn, ids, "review:edited") == ["party.jpg"]
    assert names_for(conn, ids, "review:approved") == []
    # A photo with no caption at all has no review state: it is left out of every review: filter.
    assert names_for(conn, ids, "-review:todo") == ["night.png", "party.jpg"]
    assert names_for(conn, ids, "dog review:todo") == ["beach.jpg"]
    assert names_for(conn, ids, "review:TODO review:edited") == ["beach.jpg", "forest.jpg", "party.jpg"]
    # Not a review state: searched as plain text (finds nothing here).
    assert names_for(conn, ids, "review:maybe") == []


def test_approving_keeps_text_records_time_and_survives_recaption(library):
    _, ids, conn = library
    beach = ids["beach.jpg"]
    first = photos.captions(conn, beach)[0]
    before = db.now()
    photos.approve_caption(conn, first.id)
    assert names_for(conn, ids, "review:approved") == ["beach.jpg"]
    state, at = photos.review_state(conn, beach)
    assert state == "approved" and at is not None and at >= before
    assert photos.captions(conn, beach)[0].text == "a dog on the beach"
    # Re-captioning (a new model run) never unapproves an approved photo.
    photos.set_auto_captions(conn, beach, ["a puppy on sand"], model="m2")
    assert names_for(conn, ids, "review:approved") == ["beach.jpg"]
    approved = [c for c in photos.captions(conn, beach) if c.approved]
    assert [c.text for c in approved] == ["a dog on the beach"]
    assert photos.review_state(conn, ids["party.jpg"])[0] == "edited"
    assert photos.review_state(conn, ids["night.png"]) == (None, None)


def test_status_json_counts_review_states(library, capsys):
    path, ids, conn = library
    capsys.readouterr()
    assert cli.main(["--db", path, "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["review"] == {"todo": 2, "approved": 0, "edited": 1}


def test_review_approve_and_reset_from_the_cli(library, capsys):
    path, ids, conn = library
    capsys.readouterr()
    assert cli.main(["--db", path, "review", "approve", "--dry-run", "folder:pics"]) == 0
    assert "2 photos would be approved" in capsys.readouterr().out
    assert names_for(conn, ids, "review:approved") == []          # a dry run changes nothing
    assert cli.main(["--db", path, "review", "approve", "dog"]) == 0
    assert "1 photo approved" in capsys.readouterr().out
    approved = [c for c in photos.captions(conn, ids["beach.jpg"]) if c.approved]
    assert [c.text for c in approved] == ["a dog on the beach"]    # the first machine caption only
    assert cli.main(["--db", path, "review", "approve", ""]) == 0
    assert "1 photo approved" in capsys.readouterr().out        # forest; the user's caption untouched
    assert [c.text for c in photos.captions(conn, ids["party.jpg"]) if c.source == "user"] == ["our party"]
    assert cli.main(["--db", path, "review", "reset", "--dry-run"]) == 0
    assert "2 photos would be reset" in capsys.readouterr().out
    assert names_for(conn, ids, "review:approved") == ["beach.jpg", "forest.jpg"]
    assert cli.main(["--db", path, "review", "reset", "forest"]) == 0
    assert "1 photo reset" in capsys.readouterr().out
    assert names_for(conn, ids, "review:todo") == ["forest.jpg"]
    assert cli.main(["--db", path, "review", "reset"]) == 0
    assert names_for(conn, ids, "review:edited") == ["party.jpg"]   # reset never deletes a user caption
    assert names_for(conn, ids, "review:todo") == ["beach.jpg", "forest.jpg"]


@pytest.mark.parametrize("command", [["review", "approve"], ["review", "reset", "--dry-run"],
                                     ["search", "--mode", "keyword"],
                                     ["export", "--format", "csv"]])
def test_a_mistyped_filter_is_said_not_silently_searched_as_words(library, capsys, command):
    """`review approve review:tod` approved nothing and said "0 photos approved": the typo was searched as
    the words 'review tod'. It still is (as in the search box), and a note says so."""
    path, ids, conn = library
    capsys.readouterr()
    assert cli.main(["--db", path, *command, "review:tod"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["photocap: review:tod is not a filter (review: takes todo, approved or edited), "
                   "so it was searched as words"]
    assert names_for(conn, ids, "review:approved") == []
    assert cli.main(["--db", path, *command, "review:todo"]) == 0
    assert capsys.readouterr().err == ""


# ---- outputs follow review ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_approved_only_and_review_state_round_trip(library, tmp_path, fmt, capsys):
    path, ids, conn = library
    beach_first = photos.captions(conn, ids["beach.jpg"])[0]
    photos.approve_caption(conn, beach_first.id, at=1_700_000_000.5)
    out = tmp_path / f"reviewed.{fmt}"
    assert cli.main(["--db", path, "export", "--approved-only", "--format", fmt, "--output", str(out)]) == 0
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    else:
        with out.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in rows}
    assert sorted(by_name) == ["beach.jpg", "party.jpg"]        # forest (todo) and night (none) left out
    assert by_name["beach.jpg"]["review"] == "approved" and by_name["party.jpg"]["review"] == "edited"
    assert float(by_name["beach.jpg"]["reviewed_at"]) == 1_700_000_000.5
    # A fresh library of the same photos takes the review state back.
    fresh = str(tmp_path / "fresh.db")
    pics = str(tmp_path / "pics")
    assert cli.main(["--db", fresh, "index", "--no-caption", pics]) == 0
    conn2 = db.connect(fresh)
    ids2 = {name: photos.by_path(conn2, f"{pics}/{name}").id for name in ids}
    photos.set_auto_captions(conn2, ids2["beach.jpg"], ["a dog on the beach", "a brown dog"], model="m")
    capsys.readouterr()
    assert cli.main(["--db", fresh, "import", str(out)]) == 0, capsys.readouterr().err
    assert photos.review_state(conn2, ids2["beach.jpg"]) == ("approved", 1_700_000_000.5)
    assert [c.source for c in photos.captions(conn2, ids2["beach.jpg"])] == ["auto", "auto"]
    assert photos.review_state(conn2, ids2["party.jpg"])[0] == "edited"
    assert photos.captions(conn2, ids2["party.jpg"])[0].text == "our party"


def test_import_of_an_approved_caption_whose_text_changed_is_the_users(library, tmp_path, capsys):
    path, ids, conn = library
    pics = str(tmp_path / "pics")
    out = tmp_path / "r.jsonl"
    out.write_text(json.dumps({"path": f"{pics}/forest.jpg", "caption": "a pine forest",
                               "review": "approved"}) + "\n"
                   + json.dumps({"path": f"{pics}/beach.jpg", "caption": "a dog on the beach",
                                 "review": "todo"}) + "\n", encoding="utf-8")
    assert cli.main(["--db", path, "import", str(out)]) == 0
    assert photos.review_state(conn, ids["forest.jpg"])[0] == "edited"
    assert photos.captions(conn, ids["forest.jpg"])[0].text == "a pine forest"
    assert photos.review_state(conn, ids["beach.jpg"]) == ("todo", None)   # unchanged: still to review
    out.write_text(json.dumps({"path": f"{pics}/beach.jpg", "caption": "x", "review": "maybe"}) + "\n")
    capsys.readouterr()
    assert cli.main(["--db", path, "import", str(out)]) == 1
    assert "line 1: 'review' must be one of todo, approved, edited" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
@pytest.mark.timeout(120)
def test_xmp_write_approved_only_is_read_back_by_exiftool(library, tmp_path, capsys):
    path, ids, conn = library
    photos.approve_caption(conn, photos.captions(conn, ids["beach.jpg"])[0].id)
    capsys.readouterr()
    assert cli.main(["--db", path, "xmp", "write", "--approved-only", "--naming", "digikam"]) == 0
    assert "wrote XMP for 2 photos" in capsys.readouterr().out
    pics = tmp_path / "pics"
    assert not (pics / "forest.jpg.xmp").exists()
    found = subprocess.run(["exiftool", "-s3", "-Description", str(pics / "beach.jpg.xmp"),
                            str(pics / "party.jpg.xmp")], capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert "a dog on the beach" in found.stdout and "our party" in found.stdout
