"""Start the desktop app: `photocap gui`, or `photocap` with no command (both check for a display
first: photocap.commands.gui.display_available)."""

from __future__ import annotations

import sys

from photocap.config import Settings


def main(settings: Settings) -> int:
    from PySide6.QtWidgets import QApplication

    from photocap.gui.icons import app_icon
    from photocap.gui.main_window import MainWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("photocap")
    app.setApplicationDisplayName("photocap")
    app.setDesktopFileName("io.github.photocap.Photocap")
    app.setWindowIcon(app_icon())
    window = MainWindow(settings)
    window.show()
    return app.exec()
