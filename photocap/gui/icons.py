"""The app icon, from resources/: beside the package in a source checkout (and an editable
install), or in the PyInstaller bundle (packaging/photocap.spec puts it under resources/)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

PLACES = [Path(__file__).resolve().parents[2] / "resources"]
if hasattr(sys, "_MEIPASS"):
    PLACES.insert(0, Path(sys._MEIPASS) / "resources")


def app_icon() -> QIcon:
    icon = QIcon()
    for folder in PLACES:
        for name in ("photocap.svg", "photocap.png"):     # the PNG where SVG support is missing
            if (folder / name).is_file():
                icon.addFile(str(folder / name))
        if not icon.isNull():
            break
    return icon
