"""`photocap doctor` diagnoses what it finds and changes nothing."""

from __future__ import annotations

import sqlite3

from photocap import config, doctor
from photocap.library import db


def _check(settings, name):
    return next(c for c in doctor.checks(settings) if c.name == name)


def test_model_cache_is_the_one_the_loader_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    shown = _check(config.Settings(db=str(tmp_path / "l.db")), "model cache").value
    assert shown.split(" ")[0] == str(tmp_path / "xdg" / "huggingface" / "hub")


def test_a_missing_library_is_reported_and_not_created(tmp_path):
    path = tmp_path / "none" / "library.db"
    check = _check(config.Settings(db=str(path)), "library")
    assert check.problem is None and "not created yet" in check.value
    assert not path.exists() and not path.parent.exists()


def test_a_corrupt_library_is_reported_untouched(tmp_path):
    path = tmp_path / "library.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    check = _check(config.Settings(db=str(path)), "library")
    assert check.problem and "not a photocap library" in check.problem and str(path) in check.value
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["library.db"]


def test_a_healthy_library_shows_its_schema_and_counts(tmp_path):
    path = tmp_path / "library.db"
    db.connect(path).close()
    check = _check(config.Settings(db=str(path)), "library")
    assert check.problem is None
    assert f"schema {len(db.MIGRATIONS)}" in check.value and "0 photos" in check.value


def test_a_library_missing_a_table_is_a_problem(tmp_path):
    path = tmp_path / "library.db"
    db.connect(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE questions")
    conn.commit()
    conn.close()
    check = _check(config.Settings(db=str(path)), "library")
    assert check.problem and "questions" in check.problem
