"""The status bar's permanent part: captioning and embedding progress, pause/resume, the models in use."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from photocap.gui.worker import CaptionProgress
from photocap.library.humanize import duration


def progress_text(pending: int, total: int, progress: CaptionProgress | None, paused: bool) -> str:
    if paused:
        return f"Captioning paused · {pending:,} waiting"
    if not pending:
        return f"All {total:,} photos captioned" if total else "No photos yet"
    parts = [f"{pending:,} waiting for captions"]
    if progress is not None and progress.done:
        parts.insert(0, f"{progress.done:,} captioned")
        parts.append(f"{progress.rate_per_minute:.1f} photos/min")
        if progress.eta_seconds is not None:
            parts.append(f"about {duration(progress.eta_seconds)} left")
    return " · ".join(parts)


def embedding_text(model: str, progress: CaptionProgress | None, embedded: int | None = None) -> str:
    """The embedding part of the status bar: the model, and how many photos wait for a vector."""
    if progress is not None and progress.embed_problem:
        return f"Search by meaning off: {model} is missing"
    parts = [f"Embeddings: {model}"]
    if embedded is not None:
        parts.append(f"{embedded:,} embedded")
    if progress is not None and progress.unembedded:
        parts.append(f"{progress.unembedded:,} to embed")
    return " · ".join(parts)


class StatusPanel(QWidget):
    pause_toggled = Signal(bool)                 # True: pause

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.progress_label = QLabel()
        layout.addWidget(self.progress_label)
        self.pause_button = QToolButton()
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._toggled)
        layout.addWidget(self.pause_button)
        self.model_label = QLabel()
        layout.addWidget(self.model_label)
        self.embed_label = QLabel()
        layout.addWidget(self.embed_label)
        self._progress: CaptionProgress | None = None
        self._embed_model = ""
        self._embedded: int | None = None
        self._pending = self._total = 0
        self._set_button_text(False)

    @property
    def paused(self) -> bool:
        return self.pause_button.isChecked()

    def show_counts(self, pending: int, total: int, paused: bool) -> None:
        """From the library (also changed by other processes: `photocap pause`, the daemon)."""
        self._pending, self._total = pending, total
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self._set_button_text(paused)
        self._update()

    def show_progress(self, progress: CaptionProgress) -> None:
        self._progress = progress
        self._pending = progress.pending
        self._update()

    def show_embeddings(self, model: str, embedded: int | None) -> None:
        """The embedding model's id and how many photos have its vector (from the library)."""
        self._embed_model, self._embedded = model, embedded
        self._update()

    def show_model(self, text: str) -> None:
        self.model_label.setText(f"Model: {text}")

    def _toggled(self, paused: bool) -> None:
        self._set_button_text(paused)
        self._update()
        self.pause_toggled.emit(paused)

    def _set_button_text(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setToolTip("Resume captioning" if paused else
                                     "Pause captioning (also for `photocap watch`)")

    def _update(self) -> None:
        self.progress_label.setText(progress_text(self._pending, self._total, self._progress, self.paused))
        if self._embed_model:
            self.embed_label.setText(embedding_text(self._embed_model, self._progress, self._embedded))
            problem = self._progress.embed_problem if self._progress is not None else None
            self.embed_label.setToolTip(problem or "The model that compares photos and searches by meaning")
