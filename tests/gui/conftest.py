"""GUI fixtures: real temp libraries of real JPEGs, tiny real models, the real window (offscreen)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from photocap.config import Settings
from photocap.engine import Engine
from photocap.library import db

COLOURS = ["red", "green", "blue", "yellow", "purple", "orange"]


def _coloured_photos(folder: Path, count: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        image = Image.new("RGB", (96, 64), COLOURS[i % len(COLOURS)])
        for x in range(0, 96, 12):                 # a little structure, so no two files are alike
            image.paste((i * 40 % 256, x * 2, 255 - x), (x, (i * 7) % 48, x + 6, (i * 7) % 48 + 16))
        path = folder / f"IMG_{i:04d}.jpg"
        image.save(path, "JPEG", quality=90)
        files.append(path)
    return files


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    folder = tmp_path / "Pictures"
    _coloured_photos(folder)
    return folder


@pytest.fixture
def settings(tmp_path, tiny_blip_dir, tiny_vqa_dir) -> Settings:
    return Settings(db=str(tmp_path / "library.db"), model=str(tiny_blip_dir), vqa_model=str(tiny_vqa_dir),
                    min_new_tokens=2, max_new_tokens=5, num_beams=1, batch_size=2, settle_seconds=0.2)


@pytest.fixture
def library(settings, photo_dir) -> Settings:
    """A library that knows the photos of photo_dir, none captioned yet."""
    with Engine(settings) as engine:
        engine.index([str(photo_dir)])
    return settings


@pytest.fixture
def conn(settings):
    """The test's own connection to the library, to check what the app wrote."""
    connection = db.connect(settings.db_path())
    yield connection
    connection.close()


@pytest.fixture
def open_window(qtbot):
    """Open the main window on a library; it is closed (worker and librarian stopped) afterwards."""
    from photocap.gui.main_window import MainWindow
    windows = []

    def open_(settings: Settings) -> MainWindow:
        window = MainWindow(settings)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield open_
    for window in windows:
        window.close()
