"""Render the app icon's PNG from its SVG with Qt: `python resources/render_icon.py`.

The PNG is for what wants a bitmap: window managers without SVG, the .desktop icon, PyInstaller.
"""

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent


def render(size: int = 256) -> Path:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(ICONS / "photocap.svg")).render(painter)
    painter.end()
    target = ICONS / "photocap.png"
    image.save(str(target))
    return target


if __name__ == "__main__":
    app = QGuiApplication([])
    print(render())
