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
from typing import Any

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


@dataclass
class Settings:
    db: str = ""                     # empty: library.db in the user data dir
    model: str = "blip-base"         # caption model: preset name or save_pretrained folder
    vqa_model: str = ""              # question model; empty: blip-vqa, or the caption model if it can ask
    device: str = "auto"             # auto | cpu | cuda | mps
    precision: str = "auto"          # auto | fp32 | bf16 | fp16
    batch_size: int = 8
    decode_workers: int = 2
    # caption options
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
    # interop
    xmp_sidecars: bool = False
    xmp_naming: str = "digikam"      # digikam (IMG_1.jpg.xmp) | lightroom (IMG_1.xmp)
    write_into_files: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def db_path(self) -> Path:
        return Path(self.db).expanduser() if self.db else data_dir() / "library.db"

    def replace(self, **changes: Any) -> "Settings":
        """A copy with the given fields changed; None values are ignored (unset CLI options)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(kind: Any, value: Any) -> Any:
    if kind in (bool, "bool"):
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(value)
    if kind in (float, "float"):
        return float(value)
    return str(value)


def load(path: Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file, then PHOTOCAP_<FIELD> environment variables."""
    env = os.environ if env is None else env
    path = path or config_file()
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc}") from None
    known = {f.name: f for f in fields(Settings) if f.name != "extra"}
    chosen: dict[str, Any] = {}
    extra = {}
    for key, value in values.items():
        if key in known:
            chosen[key] = value
        else:
            extra[key] = value
    for name in known:
        env_value = env.get(f"PHOTOCAP_{name.upper()}")
        if env_value is not None:
            chosen[name] = env_value
    try:
        typed = {k: _coerce(known[k].type, v) for k, v in chosen.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad value in settings: {exc}") from None
    return Settings(**typed, extra=extra)


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
    """Settings that cannot be read; shown as one line."""
