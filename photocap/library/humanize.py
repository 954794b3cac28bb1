"""Numbers as people read them, the same in every face (CLI, daemon log, app)."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """'45 s', '12 min', '2.5 h': precise enough for a time left, never falsely exact."""
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
