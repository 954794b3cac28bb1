"""`photocap doctor`: what photocap runs on, and each problem with its fix, on one screen."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from photocap import config
from photocap.library import db

MIN_FREE_BYTES = 1 << 30
MIN_INOTIFY_WATCHES = 65536


@dataclass
class Check:
    name: str
    value: str
    problem: str | None = None      # what is wrong and how to fix it


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _fts5() -> bool:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def _free(path: Path) -> int | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None


def _inotify_limit() -> int | None:
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_watches").read_text())
    except (OSError, ValueError):
        return None


def checks(settings: config.Settings) -> list[Check]:
    out = [Check("python", platform.python_version()),
           Check("platform", f"{platform.system()} {platform.release()} ({platform.machine()})")]
    for package, label in (("torch", "torch"), ("transformers", "transformers"),
                           ("PySide6-Essentials", "Qt (PySide6)"), ("pillow", "pillow"),
                           ("watchdog", "watchdog"), ("pillow-heif", "HEIC support")):
        version = _version(package) or (_version("PySide6") if package == "PySide6-Essentials" else None)
        problem = None
        if version is None:
            problem = ("optional: `pip install pillow-heif` to read iPhone HEIC photos"
                       if package == "pillow-heif" else f"missing: `pip install {package}`")
        out.append(Check(label, version or "not installed", problem))
    fts = _fts5()
    out.append(Check("SQLite", f"{sqlite3.sqlite_version}, FTS5 {'yes' if fts else 'no'}",
                     None if fts else "this SQLite has no FTS5: use a Python built with a full SQLite"))
    out.append(library_check(settings.db_path()))
    out.append(_device_check())
    out += _model_checks(settings)
    limit = _inotify_limit()
    if limit is not None:
        out.append(Check("inotify watches", f"{limit:,}", None if limit >= MIN_INOTIFY_WATCHES else
                         "large libraries need more: `echo fs.inotify.max_user_watches=524288 | "
                         "sudo tee /etc/sysctl.d/60-photocap.conf && sudo sysctl --system` "
                         "(photocap falls back to polling meanwhile)"))
    for label, path in (("library", settings.db_path()), ("cache", config.cache_dir())):
        free = _free(path)
        shown = f"{path} ({free / 1e9:.1f} GB free)" if free is not None else str(path)
        out.append(Check(label, shown, None if free is None or free >= MIN_FREE_BYTES else
                         f"less than 1 GB free where the {label} lives: free some space"))
    return out


def library_check(path: Path) -> Check:
    """What the library file is, read without creating, migrating or writing anything."""
    label = "library"
    if not path.exists():
        return Check(label, f"{path} (not created yet: the first command that needs it creates it)")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return Check(label, str(path), f"cannot open it ({exc}): check its permissions")
    try:
        found = sqlite_utils.Database(conn)
        tables = set(found.table_names())
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        missing = sorted(expected_tables() - tables)
        if missing:
            return Check(label, str(path), f"it lacks the tables {', '.join(missing)}: it is not a photocap "
                                           "library, or a damaged one; move it away and run photocap again")
        if version > len(db.MIGRATIONS):
            return Check(label, str(path), f"made by a newer photocap (schema {version}): upgrade photocap")
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            return Check(label, str(path), f"damaged ({verdict}): restore it from a backup, or run "
                                           "`sqlite3 FILE .recover` into a new file")
        photos = found["photos"].count
        return Check(label, f"{path} (schema {version}, {photos:,} photos)")
    except sqlite3.DatabaseError as exc:
        return Check(label, str(path), f"it is not a photocap library ({exc}): move it away, "
                                       "or point --db at the right file")
    finally:
        conn.close()


def expected_tables() -> set[str]:
    """The tables a current library has: the migrations, applied to an empty database in memory."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        db.migrate(conn)
        return set(sqlite_utils.Database(conn).table_names())
    finally:
        conn.close()


def _device_check() -> Check:
    try:
        import torch
    except ImportError:
        return Check("device", "unknown", "torch is not installed: `pip install torch`")
    parts = []
    if torch.cuda.is_available():
        parts.append(f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        parts.append("Apple MPS")
    cap = torch.backends.cpu.get_cpu_capability()
    parts.append(f"CPU ({os.cpu_count()} cores, {cap})")
    return Check("device", "; ".join(parts))


def _model_checks(settings: config.Settings) -> list[Check]:
    from photocap.vision import registry
    out = []
    out.append(Check("model cache", str(registry.hub_cache()) +
                     (" (offline: HF_HUB_OFFLINE=1)" if os.environ.get("HF_HUB_OFFLINE") == "1" else "")))
    present = []
    for m in registry.list_models():
        if m["present"]:
            present.append(m["name"])
    out.append(Check("presets present", ", ".join(present) or "none"))
    try:
        spec = registry.resolve(settings.model)
        ok = registry.find_local(spec) is not None
        problem = None if ok else (f"the caption model {settings.model} is not here: "
                                   f"`photocap models pull {settings.model}` (or --model FOLDER)")
        out.append(Check("caption model", settings.model, problem))
    except Exception as exc:  # noqa: BLE001 - shown as a problem line
        out.append(Check("caption model", settings.model, str(exc)))
    out.append(embed_model_check(settings.embed_model))
    return out


def embed_model_check(name: str) -> Check:
    """The embedding model (search by meaning, similar photos, duplicates): present, or how to get it."""
    from photocap.vision import registry
    label = "embedding model"
    try:
        spec = registry.resolve(name)
    except registry.ModelUnavailable as exc:
        return Check(label, name, str(exc))
    if not spec.can_embed:
        return Check(label, name, f"{name} makes captions, not embeddings: choose blip-itm-base, "
                                  "blip-itm-large or siglip2-base (--embed-model, setting embed_model)")
    folder = registry.find_local(spec)
    if folder is None or not registry.has_weights(folder):
        return Check(label, name, f"not here, so photos are captioned but not searchable by meaning: "
                                  f"`photocap models pull {spec.name}` (or --embed-model FOLDER)")
    return Check(label, name)


def report(settings: config.Settings) -> tuple[str, int]:
    """The screen of text and the number of problems."""
    rows = checks(settings)
    width = max(len(c.name) for c in rows)
    lines = []
    problems = 0
    for c in rows:
        mark = "ok " if c.problem is None else "!! "
        lines.append(f"{mark}{c.name:<{width}}  {c.value}")
        if c.problem:
            problems += 1
            lines.append(f"   {'':<{width}}  -> {c.problem}")
    lines.append(f"\n{problems} problem{'s' if problems != 1 else ''} found" if problems else "\nall good")
    return "\n".join(lines), problems

