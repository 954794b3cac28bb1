"""The settings dialog offers exactly the values the settings accept (one declaration: config.LIMITS)."""

from __future__ import annotations

import pytest

from photocap import config
from photocap.config import LIMITS, Settings

SPINS = ["batch_size", "num_beams", "num_captions", "max_new_tokens", "min_new_tokens", "temperature",
         "top_p", "repetition_penalty"]


@pytest.fixture
def dialog(qtbot):
    from photocap.gui.settings import SettingsDialog

    def make(settings: Settings) -> SettingsDialog:
        made = SettingsDialog(settings)
        qtbot.addWidget(made)
        return made
    return make


@pytest.mark.parametrize("name", SPINS)
def test_each_box_spans_the_declared_range(dialog, name):
    made = dialog(Settings(min_new_tokens=0, max_new_tokens=LIMITS["max_new_tokens"].high))
    box = getattr(made, name)
    limit = LIMITS[name]
    if limit.low_open:                           # as close above the open end as the box can show
        assert limit.low < box.minimum() <= limit.low + limit.step
    else:
        assert box.minimum() == limit.low
    assert box.maximum() == pytest.approx(limit.high)
    assert limit.allows(box.minimum()) and limit.allows(box.maximum())


def test_values_at_the_ends_of_the_ranges_come_back_unchanged(dialog):
    ends = dict(num_beams=16, num_captions=10, max_new_tokens=512, min_new_tokens=512, temperature=5.0,
                top_p=1.0, repetition_penalty=5.0, batch_size=256)
    values = dialog(Settings(**ends)).values()
    assert {name: values[name] for name in ends} == ends


def test_the_shortest_can_never_pass_the_longest(dialog):
    made = dialog(Settings(min_new_tokens=5, max_new_tokens=30))
    made.max_new_tokens.setValue(8)
    assert made.min_new_tokens.value() == 5 and made.min_new_tokens.maximum() == 8
    made.min_new_tokens.setValue(20)
    assert made.min_new_tokens.value() == 8
    made.max_new_tokens.setValue(3)
    assert made.min_new_tokens.value() == 3
    values = made.values()
    assert (values["min_new_tokens"], values["max_new_tokens"]) == (3, 3)


def test_whatever_the_dialog_gives_is_valid_settings(dialog):
    made = dialog(Settings())
    for name in SPINS:
        box = getattr(made, name)
        box.setValue(box.maximum())
    made.prompt.setText("x" * 1000)
    values = made.values()
    assert len(values["prompt"]) == config.PROMPT_MAX_CHARS
    settings = Settings().replace(**values)      # raises ConfigError for anything out of range
    assert settings.repetition_penalty == LIMITS["repetition_penalty"].high
