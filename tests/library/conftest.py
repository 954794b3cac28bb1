"""Fixtures of the library tests."""

from __future__ import annotations

import pytest
from search_library import fill

from photocap.library import db


@pytest.fixture
def lib(tmp_path):
    """A small real library of the search tests (search_library.PHOTOS)."""
    conn = db.connect(tmp_path / "lib.db")
    yield fill(conn)
    conn.close()
