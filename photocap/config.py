"""Settings: one dataclass with defaults, a TOML file in the user config dir, and env overrides.

Precedence (lowest first): defaults, config file, PHOTOCAP_* environment variables, command line.
The GUI, the daemon and the CLI all read the same file, so a choice made in one holds in the others.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

APP = "photocap"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def data_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local")) / APP
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def config_dir() -> Path:
    if sys.platform in ("darwin", "win32"):
        return data_dir()
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def cache_dir() -> Path:
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    if sys.platform == "win32":
        return data_dir() / "cache"
    return _xdg("XDG_CACHE_HOME", ".cache") / APP


def config_file() -> Path:
    return Path(os.environ.get("PHOTOCAP_CONFIG", config_dir() / "config.toml"))


@dataclass(frozen=True)
class Limit:
    """The values a numeric setting may take. The file, the environment, the command line and the
    settings dialog all check against these, so a range is declared here and nowhere else."""

    low: float
    high: float
    kind: type = int
    low_open: bool = False        # temperature, top_p: above `low`, never equal to it
    step: float = 1               # the dialog's step; also its lowest value when `low` is open

    def allows(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return bool(above and value <= self.high)    # False for NaN

    def describe(self) -> str:
        if self.kind is int:
            return f"a whole number from {self.low:g} to {self.high:g}"
        if self.low_open:
            return f"a number above {self.low:g} and at most {self.high:g}"
        return f"a number from {self.low:g} to {self.high:g}"

    def parse(self, value: Any) -> int | float:
        """`value` (text from the environment or command line, or a TOML value) in range, or ValueError."""
        try:
            number = _number(self.kind, value)
        except (TypeError, ValueError):
            number = None
        if number is None or not self.allows(number):
            raise ValueError(f"must be {self.describe()}, not {_shown(value)}")
        return number


# Generation grows with beams x tokens: unbounded values exhaust memory, and more new tokens than the
# model has positions crash it; the model's own (smaller) limit is checked when it loads.
LIMITS: dict[str, Limit] = {
    "batch_size": Limit(1, 256),
    "decode_workers": Limit(1, 32),
    "num_beams": Limit(1, 16),
    "num_captions": Limit(1, 10),
    "top_p": Limit(0.0, 1.0, float, low_open=True, step=0.05),
    "temperature": Limit(0.0, 5.0, float, low_open=True, step=0.05),
    "max_new_tokens": Limit(1, 512),
    "min_new_tokens": Limit(0, 512),
    "repetition_penalty": Limit(1.0, 5.0, float, step=0.05),
}
PROMPT_MAX_CHARS = 200
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _number(kind: type, value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError("a switch is not a number")
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not whole")
        return int(value) if isinstance(value, (int, float)) else int(str(value).strip())
    return float(value)


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_setting(name: str, value: Any) -> Any:
    """One setting's value from a file, the environment or the command line, checked; ValueError
    says what is allowed ("must be a whole number from 1 to 16, not 20")."""
    if name in LIMITS:
        return LIMITS[name].parse(value)
    kind = _KINDS.get(name, "str")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _TRUE + _FALSE:
            raise ValueError(f"must be true or false, not {_shown(value)}")
        return text in _TRUE
    if kind in ("int", "float"):
        try:
            return _number(int if kind == "int" else float, value)
        except (TypeError, ValueError):
            what = "a whole number" if kind == "int" else "a number"
            raise ValueError(f"must be {what}, not {_shown(value)}") from None
    if isinstance(value, (dict, list)):
        raise ValueError(f"must be text, not {_shown(value)}")
    text = str(value)
    if name == "prompt" and len(text) > PROMPT_MAX_CHARS:
        raise ValueError(f"must be at most {PROMPT_MAX_CHARS} characters, not {len(text)}")
    return text


DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# The settings that are caption options: the captioner's CaptionOptions and the CLI's flags are
# derived from these fields of Settings (their defaults and LIMITS are declared here, once).
CAPTION_OPTIONS = ("prompt", "num_beams", "do_sample", "top_p", "temperature", "num_captions",
                   "max_new_tokens", "min_new_tokens", "repetition_penalty")


@dataclass
class Settings:
    db: str = ""                     # empty: library.db in the user data dir
    model: str = "blip-base"         # caption model: preset name or save_pretrained folder
    vqa_model: str = ""              # question model; empty: blip-vqa, or the caption model if it can ask
    embed_model: str = "blip-itm-base"  # search model (image and text embeddings): preset name or folder
    device: str = "auto"             # DEVICES
    precision: str = "auto"          # PRECISIONS
    batch_size: int = 8
    decode_workers: int = 2
    # caption options (CAPTION_OPTIONS)
    prompt: str = ""                 # conditional prefix, e.g. "a photography of"
    num_beams: int = 3
    do_sample: bool = False
    top_p: float = 0.9
    temperature: float = 1.0
    num_captions: int = 1
    max_new_tokens: int = 30
    min_new_tokens: int = 5
    repetition_penalty: float = 1.2
    # watching
    settle_seconds: float = 1.0
    reconcile_minutes: float = 30.0
    follow_links: bool = False       # follow links that lead out of a library folder (e.g. to another drive)
    # interop
    xmp_sidecars: bool = False
    xmp_naming: str = "digikam"      # digikam (IMG_1.jpg.xmp) | lightroom (IMG_1.xmp)
    write_into_files: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (*LIMITS, "prompt"):
            try:
                parse_setting(name, getattr(self, name))
            except ValueError as exc:
                raise ConfigError(f"{name} {exc}") from None
        if self.min_new_tokens > self.max_new_tokens:
            raise ConfigError(f"min_new_tokens ({self.min_new_tokens}) cannot be more than "
                              f"max_new_tokens ({self.max_new_tokens})")

    def db_path(self) -> Path:
        return Path(self.db).expanduser() if self.db else data_dir() / "library.db"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with the given fields changed; None values are ignored (unset CLI options).

        A token bound set here wins over the other, inherited one (--max-new-tokens 4 lowers a saved
        shortest of 5); both set here and crossed is an error.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        low, high = changes.get("min_new_tokens"), changes.get("max_new_tokens")
        if high is not None and low is None:
            changes["min_new_tokens"] = min(self.min_new_tokens, high)
        elif low is not None and high is None:
            changes["max_new_tokens"] = max(self.max_new_tokens, low)
        return dataclasses.replace(self, **changes)


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then PHOTOCAP_<FIELD> environment variables."""
    env = os.environ if env is None else env
    path = path or config_file()
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc}") from None
    extra = {key: value for key, value in values.items() if key not in _KINDS}
    from_file = {
        name: _checked(name, value, f"settings file {path}: {name}")
        for name, value in values.items() if name in _KINDS
    }
    from_env = {
        name: _checked(name, env[f"PHOTOCAP_{name.upper()}"], f"PHOTOCAP_{name.upper()} ({name})")
        for name in _KINDS if f"PHOTOCAP_{name.upper()}" in env
    }
    try:
        settings = Settings(extra=extra).replace(**from_file)
    except ConfigError as exc:
        raise ConfigError(f"settings file {path}: {exc}") from None
    try:
        return settings.replace(**from_env)
    except ConfigError as exc:
        raise ConfigError(f"PHOTOCAP_* environment: {exc}") from None


def _checked(name: str, value: Any, where: str) -> Any:
    try:
        return parse_setting(name, value)
    except ValueError as exc:
        raise ConfigError(f"{where} {exc}") from None


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults, atomically."""
    path = path or config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    default = Settings()
    lines = []
    for f in fields(Settings):
        if f.name == "extra":
            continue
        value = getattr(settings, f.name)
        if value != getattr(default, f.name):
            lines.append(f"{f.name} = {_toml_value(value)}")
    for key, value in settings.extra.items():       # keys of other versions survive a save
        if isinstance(value, (str, int, float, bool)):
            lines.append(f"{key} = {_toml_value(value)}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class ConfigError(Exception):
    """Settings that cannot be read or are out of range; shown as one line."""


# Each setting's type, from the annotations (strings under `from __future__ import annotations`).
_KINDS = {f.name: str(f.type) for f in fields(Settings) if f.name != "extra"}
