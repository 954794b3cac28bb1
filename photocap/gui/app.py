"""Start the desktop app: `photocap gui`, or `photocap` with no command."""

from __future__ import annotations

import os
import sys

from photocap.config import Settings


def has_display() -> bool:
    """False on a Linux box without a graphical session, where Qt would abort the process."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def main(settings: Settings) -> int:
    if not has_display():
        print("photocap: no display to open the app on; the command line works without one "
              "(`photocap --help`)", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from photocap.gui.icons import app_icon
    from photocap.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("photocap")
    app.setApplicationDisplayName("photocap")
    app.setDesktopFileName("io.github.photocap.Photocap")
    app.setWindowIcon(app_icon())
    window = MainWindow(settings)
    window.show()
    return app.exec()
