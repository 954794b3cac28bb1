"""The settings dialog: models, device, caption options, watching. Saved to the file the CLI and
the daemon read too; the app applies them by restarting its worker's engine (and the librarian)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from photocap.config import DEVICES, LIMITS, PRECISIONS, PROMPT_MAX_CHARS, Settings

AUTOMATIC = "(automatic)"
BEAMS, SAMPLING = "Beam search", "Sampling (more varied)"
WATCHING_FIELDS = ("settle_seconds", "reconcile_minutes")


def model_presets() -> tuple[list[str], list[str], list[str]]:
    """Preset names that caption, those that answer questions, and those that embed photos for search
    (no disk access: no waiting)."""
    from photocap.vision.registry import PRESETS
    return ([n for n, s in PRESETS.items() if s.can_caption], [n for n, s in PRESETS.items() if s.can_ask],
            [n for n, s in PRESETS.items() if s.can_embed])


class ModelChooser(QWidget):
    """A preset name, or a folder saved with save_pretrained (typed or picked)."""

    def __init__(self, names: list[str], current: str, automatic: bool = False, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.addItems(([AUTOMATIC] if automatic else []) + names)
        self.combo.setCurrentText(current or (AUTOMATIC if automatic else ""))
        layout.addWidget(self.combo, 1)
        browse = QPushButton("Folder…")
        browse.setToolTip("A model folder made with save_pretrained")
        browse.clicked.connect(self._browse)
        layout.addWidget(browse)

    def value(self) -> str:
        text = self.combo.currentText().strip()
        return "" if text == AUTOMATIC else text

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.combo.setCurrentText(folder)


def _spin(low: int, high: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    return box


def _whole(name: str, settings: Settings) -> QSpinBox:
    """A box offering exactly a whole-number setting's declared range (photocap.config.LIMITS)."""
    limit = LIMITS[name]
    box = _spin(int(limit.low), int(limit.high), getattr(settings, name))
    box.setToolTip(_sentence(limit.describe()))
    return box


def _decimal(name: str, settings: Settings) -> QDoubleSpinBox:
    """A box offering exactly a decimal setting's declared range (photocap.config.LIMITS)."""
    limit = LIMITS[name]
    # An open end (temperature > 0) starts at the smallest value two decimals show above it.
    low = limit.low + 0.01 if limit.low_open else limit.low
    box = _double(low, limit.high, getattr(settings, name), limit.step)
    box.setToolTip(_sentence(limit.describe()))
    return box


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _double(low: float, high: float, value: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setValue(value)
    return box


def _choice(items: Sequence[str], current: str) -> QComboBox:
    box = QComboBox()
    box.addItems(list(items))
    box.setCurrentText(current)
    return box


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent=None, *, page: str = "models"):
        super().__init__(parent)
        self.setWindowTitle("photocap settings")
        s = settings
        caption_names, ask_names, embed_names = model_presets()
        tabs = QTabWidget()

        models = QWidget()
        form = QFormLayout(models)
        self.model = ModelChooser(caption_names, s.model)
        form.addRow("Caption model", self.model)
        self.vqa_model = ModelChooser(ask_names, s.vqa_model, automatic=True)
        form.addRow("Question model", self.vqa_model)
        self.embed_model = ModelChooser(embed_names, s.embed_model)
        self.embed_model.setToolTip("Finds photos by what they show; siglip2-base understands many languages")
        form.addRow("Search model", self.embed_model)
        self.device = _choice(DEVICES, s.device)
        form.addRow("Device", self.device)
        self.precision = _choice(PRECISIONS, s.precision)
        form.addRow("Precision", self.precision)
        self.batch_size = _whole("batch_size", s)
        form.addRow("Batch size", self.batch_size)
        tabs.addTab(models, "Models")

        captions = QWidget()
        form = QFormLayout(captions)
        self.prompt = QLineEdit(s.prompt)
        self.prompt.setMaxLength(PROMPT_MAX_CHARS)
        self.prompt.setPlaceholderText("e.g. a photography of")
        form.addRow("Prompt prefix", self.prompt)
        self.decoding = _choice([BEAMS, SAMPLING], SAMPLING if s.do_sample else BEAMS)
        form.addRow("Decoding", self.decoding)
        self.num_beams = _whole("num_beams", s)
        form.addRow("Beams", self.num_beams)
        self.temperature = _decimal("temperature", s)
        form.addRow("Temperature", self.temperature)
        self.top_p = _decimal("top_p", s)
        form.addRow("Top p", self.top_p)
        self.num_captions = _whole("num_captions", s)
        self.num_captions.setToolTip("Caption candidates kept per photo for review: the best beams, or samples "
                                     f"at this temperature. {self.num_captions.toolTip()}")
        form.addRow("Caption candidates", self.num_captions)
        self.min_new_tokens = _whole("min_new_tokens", s)
        form.addRow("Shortest (tokens)", self.min_new_tokens)
        self.max_new_tokens = _whole("max_new_tokens", s)
        self.max_new_tokens.setToolTip(f"{self.max_new_tokens.toolTip()}; the model may allow fewer")
        form.addRow("Longest (tokens)", self.max_new_tokens)
        # The shortest never passes the longest: lowering the longest pulls the shortest down with it.
        self.min_new_tokens.setMaximum(self.max_new_tokens.value())
        self.max_new_tokens.valueChanged.connect(self.min_new_tokens.setMaximum)
        self.repetition_penalty = _decimal("repetition_penalty", s)
        form.addRow("Repetition penalty", self.repetition_penalty)
        self.decoding.currentTextChanged.connect(self._decoding_changed)
        self._decoding_changed(self.decoding.currentText())
        tabs.addTab(captions, "Captions")

        watching = QWidget()
        form = QFormLayout(watching)
        self.settle_seconds = _double(0.1, 600.0, s.settle_seconds, 0.5, 1)
        self.settle_seconds.setToolTip("Quiet time before a new or changed file is taken")
        form.addRow("Settle time (s)", self.settle_seconds)
        self.reconcile_minutes = _double(1.0, 1440.0, s.reconcile_minutes, 5.0, 0)
        self.reconcile_minutes.setToolTip("A full check of every folder, for changes watching missed")
        form.addRow("Full check every (min)", self.reconcile_minutes)
        tabs.addTab(watching, "Watching")
        tabs.setCurrentIndex({"models": 0, "captions": 1, "watching": 2}[page])

        choices = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(choices.Ok | choices.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    def values(self) -> dict:
        """The fields of Settings this dialog sets."""
        return {
            "model": self.model.value(), "vqa_model": self.vqa_model.value(),
            "embed_model": self.embed_model.value(),
            "device": self.device.currentText(), "precision": self.precision.currentText(),
            "batch_size": self.batch_size.value(), "prompt": self.prompt.text().strip(),
            "do_sample": self.decoding.currentText() == SAMPLING, "num_beams": self.num_beams.value(),
            "temperature": self.temperature.value(), "top_p": self.top_p.value(),
            "num_captions": self.num_captions.value(), "min_new_tokens": self.min_new_tokens.value(),
            "max_new_tokens": self.max_new_tokens.value(),
            "repetition_penalty": self.repetition_penalty.value(),
            "settle_seconds": self.settle_seconds.value(),
            "reconcile_minutes": self.reconcile_minutes.value(),
        }

    def _decoding_changed(self, text: str) -> None:
        sampling = text == SAMPLING
        self.num_beams.setEnabled(not sampling)
        self.temperature.setEnabled(sampling)
        self.top_p.setEnabled(sampling)


def changed(settings: Settings, values: dict) -> dict:
    """The values that differ from `settings`."""
    return {k: v for k, v in values.items() if getattr(settings, k) != v}
