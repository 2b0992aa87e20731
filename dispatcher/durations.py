"""Durations as operators write them on a command line: ``90s``, ``30m``, ``24h``, ``14d``."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*$")
_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``30m`` → 1800.0 seconds; a bare number is seconds. Raises ValueError with the text."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 24h or 14d")
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


def format_duration(seconds: float) -> str:
    """1800 → ``30m``; for messages, the largest whole unit."""
    for unit in ("d", "h", "m"):
        size = _SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def format_estimate(seconds: float) -> str:
    """A rough duration for a person: ``under a minute``, ``41 min``, ``2 h 05 min``."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
