"""More caption candidates: photos.add_auto_captions (library) and more_captions (engine, tiny real BLIP)."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from photocap import cli
from photocap.config import Settings
from photocap.engine import Engine
from photocap.library import db, photos
from photocap.library.images import ImageError
from photocap.library.search import keyword


def _photo_files(folder, count=3):
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, colour in enumerate(["red", "green", "blue", "yellow"][:count]):
        image = Image.new("RGB", (96, 64), colour)
        image.paste((i * 60, 20, 200 - i * 30), (10 * i, 5, 10 * i + 20, 40))
        path = folder / f"IMG_{i}.jpg"
        image.save(path, "JPEG", quality=90)
        files.append(path)
    return files


# ---- the library: add_auto_captions ----------------------------------------------------------------

@pytest.fixture
def lib(tmp_path):
    root = tmp_path / "pics"
    files = _photo_files(root, 3)
    path = str(tmp_path / "lib.db")
    assert cli.main(["--db", path, "index", "--no-caption", str(root)]) == 0
    conn = db.connect(path)
    ids = [photos.by_path(conn, str(f)).id for f in files]
    yield path, ids, conn
    conn.close()


def _found(conn, query):
    return {i for i, _ in keyword.ranked_ids(conn, query, limit=-1)}


def test_new_candidates_are_appended_distinct_and_an_approved_photo_stays_approved(lib):
    path, (beach, _, _), conn = lib
    photos.set_auto_captions(conn, beach, ["a dog on the beach", "a brown dog"], model="m", tags=["dog", "beach"])
    first = photos.captions(conn, beach)[0]
    photos.approve_caption(conn, first.id, at=1000.0)
    assert photos.review_state(conn, beach) == ("approved", 1000.0)

    now = photos.add_auto_captions(conn, beach, ["  a brown   dog ", "a surfer riding a wave", "a surfer riding a wave",
                                                 "", "a sandy beach"],
                                   model="m2", options={"do_sample": True, "temperature": 0.7},
                                   tags=["surfer", "wave", "beach"])
    assert now == ["a dog on the beach", "a brown dog", "a surfer riding a wave", "a sandy beach"]

    fresh = db.connect(path)          # read back as another process would
    try:
        caps = photos.captions(fresh, beach)
        assert [c.text for c in caps] == now
        assert [c.approved for c in caps] == [True, False, False, False]
        assert (caps[0].id, caps[0].model) == (first.id, "m")          # the old ones are untouched
        assert caps[2].model == "m2" and caps[2].options == {"do_sample": True, "temperature": 0.7}
        assert photos.review_state(fresh, beach) == ("approved", 1000.0)
        assert {t for t, _ in photos.tags(fresh, beach)} == {"dog", "beach", "surfer", "wave"}
        assert photos.get(fresh, beach).status == "done"
        assert beach in _found(fresh, "surfer") and beach in _found(fresh, "tag:wave")
        assert beach in _found(fresh, "review:approved")
    finally:
        fresh.close()


def test_a_users_caption_and_tags_are_never_touched(lib):
    _, (_, forest, _), conn = lib
    photos.set_auto_captions(conn, forest, ["a green forest"], model="m", tags=["forest"])
    photos.set_user_caption(conn, forest, "our walk in the woods")
    photos.add_user_tags(conn, forest, ["holiday"])
    state_before = photos.review_state(conn, forest)

    now = photos.add_auto_captions(conn, forest, ["a green forest", "tall trees in a forest"], model="m",
                                   options={}, tags=["tree", "holiday"])
    assert now == ["a green forest", "tall trees in a forest"]
    caps = photos.captions(conn, forest)
    assert (caps[0].text, caps[0].source, caps[0].approved) == ("our walk in the woods", "user", True)
    assert photos.review_state(conn, forest) == state_before and state_before[0] == "edited"
    assert dict(photos.tags(conn, forest))["holiday"] == "user"    # a user's tag stays the user's


def test_nothing_new_changes_nothing(lib):
    _, (beach, _, _), conn = lib
    photos.set_auto_captions(conn, beach, ["a dog on the beach"], model="m", tags=["dog"])
    before = [(c.id, c.text, c.approved) for c in photos.captions(conn, beach)]
    assert photos.add_auto_captions(conn, beach, ["a dog  on the beach", " "], model="m", options={}) == [
        "a dog on the beach"]
    assert [(c.id, c.text, c.approved) for c in photos.captions(conn, beach)] == before


def test_a_photo_without_captions_is_captioned_as_the_first_time(lib):
    _, (_, _, night), conn = lib
    assert photos.get(conn, night).status == "pending" and photos.captions(conn, night) == []
    now = photos.add_auto_captions(conn, night, ["stars over a lake", "stars over a lake", "a night sky"],
                                   model="m", options={"num_captions": 3}, tags=["star", "lake"])
    assert now == ["stars over a lake", "a night sky"]
    assert photos.get(conn, night).status == "done"
    assert photos.review_state(conn, night)[0] == "todo"
    assert night in _found(conn, "lake review:todo")


def test_an_unknown_photo_is_one_line(lib):
    _, _, conn = lib
    with pytest.raises(db.LibraryError, match="no photo with id 999") as err:
        photos.add_auto_captions(conn, 999, ["x"], model="m", options={})
    assert "\n" not in str(err.value)


# ---- the engine: more_captions on a tiny real BLIP --------------------------------------------------

def _settings(tmp_path, tiny_blip_dir, **changes) -> Settings:
    base = dict(db=str(tmp_path / "library.db"), model=str(tiny_blip_dir), min_new_tokens=2, max_new_tokens=5,
                num_beams=1, batch_size=2)
    return Settings(**{**base, **changes})


@pytest.fixture
def captioned(tmp_path, tiny_blip_dir):
    """A library of three photos captioned with one beam caption each."""
    folder = tmp_path / "Pictures"
    files = _photo_files(folder, 3)
    settings = _settings(tmp_path, tiny_blip_dir)
    with Engine(settings) as engine:
        engine.index([str(folder)])
        assert engine.caption_pending().done == 3
    return settings, files


def _machine(conn, photo_id):
    return [c for c in photos.captions(conn, photo_id) if c.source == "auto"]


@pytest.mark.timeout(120)
def test_more_captions_adds_sampled_candidates_and_keeps_the_first(captioned):
    settings, files = captioned
    torch.manual_seed(1)
    with Engine(settings) as engine:
        photo = photos.by_path(engine.conn, str(files[0]))
        first = _machine(engine.conn, photo.id)
        assert len(first) == 1
        photos.approve_caption(engine.conn, first[0].id, at=500.0)
        now = engine.more_captions(photo.id)
    conn = db.connect(settings.db_path())
    try:
        caps = _machine(conn, photo.id)
        assert now == [c.text for c in caps]
        assert now[0] == first[0].text and len(now) >= 3          # at least 3 asked, new ones only
        assert len(set(now)) == len(now)
        assert photos.review_state(conn, photo.id) == ("approved", 500.0)
        # Other settings than the user's beams: nucleus samples at temperature 1.0, the user's top_p.
        options = caps[1].options
        assert options["do_sample"] is True and options["temperature"] == 1.0
        assert options["top_p"] == settings.top_p and options["num_captions"] >= 3
        assert caps[0].options["do_sample"] is False
        assert photo.id in _found(conn, f'"{now[-1]}"')             # the search document has them
    finally:
        conn.close()


@pytest.mark.timeout(120)
def test_more_captions_samples_at_the_users_temperature(tmp_path, tiny_blip_dir):
    folder = tmp_path / "Pictures"
    files = _photo_files(folder, 1)
    settings = _settings(tmp_path, tiny_blip_dir, do_sample=True, temperature=0.7, top_p=0.8)
    torch.manual_seed(2)
    with Engine(settings) as engine:
        engine.index([str(folder)])
        engine.caption_pending()
        photo = photos.by_path(engine.conn, str(files[0]))
        before = [c.text for c in _machine(engine.conn, photo.id)]
        now = engine.more_captions(photo.id)
        assert now[:len(before)] == before and len(now) > len(before)
        added = _machine(engine.conn, photo.id)[len(before):]
        assert {(c.options["temperature"], c.options["top_p"]) for c in added} == {(0.7, 0.8)}


@pytest.mark.timeout(120)
def test_num_captions_3_keeps_3_distinct_sampled_candidates_at_the_users_temperature(tmp_path, tiny_blip_dir):
    folder = tmp_path / "Pictures"
    files = _photo_files(folder, 2)
    settings = _settings(tmp_path, tiny_blip_dir, do_sample=True, temperature=0.7, num_captions=3)
    torch.manual_seed(3)
    with Engine(settings) as engine:
        engine.index([str(folder)])
        assert engine.caption_pending().done == 2
        for file in files:
            photo_id = photos.by_path(engine.conn, str(file)).id
            caps = _machine(engine.conn, photo_id)
            assert len({c.text for c in caps}) == 3
            assert len({json.dumps(c.options, sort_keys=True) for c in caps}) == 1    # one run's options
            assert (caps[0].options["do_sample"], caps[0].options["temperature"]) == (True, 0.7)
            assert photos.review_state(engine.conn, photo_id)[0] == "todo"


@pytest.mark.timeout(120)
def test_a_photo_that_cannot_be_decoded_is_one_line_and_nothing_changes(captioned):
    settings, files = captioned
    files[1].write_bytes(b"not a jpeg at all")
    with Engine(settings) as engine:
        photo = photos.by_path(engine.conn, str(files[1]))
        before = [(c.id, c.text) for c in photos.captions(engine.conn, photo.id)]
        with pytest.raises((ImageError, db.LibraryError)) as err:
            engine.more_captions(photo.id)
        assert "\n" not in str(err.value) and str(err.value)
        with pytest.raises(db.LibraryError, match="no photo with id 4242"):
            engine.more_captions(4242)
        assert [(c.id, c.text) for c in photos.captions(engine.conn, photo.id)] == before
        assert photos.get(engine.conn, photo.id).status == "done"


def test_the_num_captions_flag_says_these_are_candidates_for_review(capsys):
    with pytest.raises(SystemExit):
        cli.main(["index", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    flag = help_text[help_text.index("--num-captions N", help_text.index("caption options")):]
    flag = flag[:flag.index("--max-new-tokens")]
    assert "candidates" in flag and "review" in flag and "1 to 10" in flag
    assert "temperature" in flag and "beams" in flag


@pytest.mark.timeout(120)
def test_review_more_adds_candidates_to_the_photos_a_search_finds(captioned, tiny_blip_dir, capsys):
    settings, files = captioned
    files[2].write_bytes(b"damaged since")                    # fails alone, in one line
    model = ["--model", str(tiny_blip_dir), "--min-new-tokens", "2", "--max-new-tokens", "5"]
    conn = db.connect(settings.db_path())
    try:
        before = {f.name: [c.text for c in _machine(conn, photos.by_path(conn, str(f)).id)] for f in files}
        capsys.readouterr()
        code = cli.main(["--db", settings.db, "review", "more", "path:IMG_0", *model])
        out, err = capsys.readouterr()
        assert code == 0 and err == ""
        now = [c.text for c in _machine(conn, photos.by_path(conn, str(files[0])).id)]
        assert now[:1] == before["IMG_0.jpg"] and len(now) >= 3
        assert out == f"{files[0]}: {' | '.join(now)}\n"
        # The other photos were not asked for.
        assert [c.text for c in _machine(conn, photos.by_path(conn, str(files[1])).id)] == before["IMG_1.jpg"]

        code = cli.main(["--db", settings.db, "review", "more", "path:IMG_2", *model])
        out, err = capsys.readouterr()
        assert code == 1 and out == "" and err.count("\n") == 1 and "IMG_2.jpg" in err
        assert [c.text for c in _machine(conn, photos.by_path(conn, str(files[2])).id)] == before["IMG_2.jpg"]

        assert cli.main(["--db", settings.db, "review", "more", "path:nothing-like-this", *model]) == 0
        assert capsys.readouterr().out == "no photo matches path:nothing-like-this\n"
    finally:
        conn.close()
