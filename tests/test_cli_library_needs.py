"""Commands open the library only when they need it; a broken library file is named, never touched."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(tmp_path, *args):
    env = {**os.environ, "PHOTOCAP_DB": str(tmp_path / "lib" / "library.db")}
    return subprocess.run([sys.executable, "-m", "photocap", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["doctor"], ["models", "list"],
                                  ["models", "list", "--json"], ["index", "--help"]])
def test_commands_that_need_no_library_never_create_one(tmp_path, args):
    result = _run(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "lib").exists()
    assert "created a new library" not in result.stderr


def test_the_first_command_that_needs_a_library_creates_it_and_says_where(tmp_path):
    result = _run(tmp_path, "status")
    assert result.returncode == 0
    assert (tmp_path / "lib" / "library.db").is_file()
    assert f"created a new library at {tmp_path / 'lib' / 'library.db'}" in result.stderr


@pytest.mark.parametrize("content", [b"", b"garbage, not a database " * 200,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_a_broken_library_is_one_line_naming_it_and_the_doctor(tmp_path, content):
    path = tmp_path / "lib" / "library.db"
    path.parent.mkdir()
    path.write_bytes(content)
    result = _run(tmp_path, "status")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "photocap doctor" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == content

    doctor = _run(tmp_path, "doctor")
    assert doctor.returncode == 0 and "Traceback" not in doctor.stderr
    assert any(line.startswith("!! library") and str(path) in line for line in doctor.stdout.splitlines())
    assert path.read_bytes() == content
    assert sorted(p.name for p in path.parent.iterdir()) == ["library.db"]
