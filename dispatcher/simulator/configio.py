"""Config to and from plain data: JSON patches, TOML/JSON key files, population files.

One small typed decoder serves three doors (the control endpoint, ``--keys-file`` and the
embedding API's ``configure(**changes)``), so a setting is spelled the same way everywhere:
the dataclass field name.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from dispatcher.simulator.config import (
    ConfigError,
    KeyConfig,
    RatePolicy,
    SimulatorConfig,
)

CITIZEN_STATES = ("allowed", "blocked", "missing")

_T = TypeVar("_T")


def apply_changes(config: SimulatorConfig, changes: Mapping[str, Any]) -> SimulatorConfig:
    """A new config: ``config`` with ``changes`` (a partial, JSON-shaped mapping) applied.

    ``rate`` takes ``"10/1s"`` or ``{"limit": 10, "period_s": 1}``; ``faults`` and
    ``population`` take partial objects; ``keys`` replaces the whole key list;
    ``ente_rates`` replaces the overrides (``{"ente": "250/5s"}``).
    """
    _reject_unknown("config", changes, {f.name for f in fields(SimulatorConfig)})
    updates: dict[str, Any] = {}
    if "rate" in changes:
        updates["rate"] = _rate(changes["rate"], config.rate)
    if "ente_rates" in changes:
        raw = _mapping("ente_rates", changes["ente_rates"])
        updates["ente_rates"] = {str(k): _rate(v, config.rate) for k, v in raw.items()}
    if "keys" in changes:
        updates["keys"] = tuple(_key(item) for item in _list("keys", changes["keys"]))
    if "population" in changes:
        updates["population"] = _patch(config.population, changes["population"], "population")
    if "faults" in changes:
        updates["faults"] = _patch(config.faults, changes["faults"], "faults")
    if "processing_delay_s" in changes:
        updates["processing_delay_s"] = _number("processing_delay_s", changes["processing_delay_s"])
    try:
        return replace(config, **updates)
    except TypeError as exc:  # pragma: no cover - guarded by _reject_unknown
        raise ConfigError(str(exc)) from None


def config_to_dict(config: SimulatorConfig) -> dict[str, Any]:
    """JSON-ready view of the config; keys are shown masked (``demo…``), never whole."""
    return {
        "keys": [_plain(k, mask_key=True) for k in config.keys],
        "rate": _plain(config.rate),
        "ente_rates": {name: _plain(rate) for name, rate in config.ente_rates.items()},
        "population": _plain(config.population),
        "faults": _plain(config.faults),
        "processing_delay_s": config.processing_delay_s,
    }


def load_keys_file(path: Path) -> dict[str, Any]:
    """Read ``keys`` (and optional ``rate``/``ente_rates``) from a ``.toml`` or ``.json`` file.

    The result is a change set for :func:`apply_changes`; the file replaces the default key.
    """
    data = _read_structured(path)
    _reject_unknown(str(path), data, {"keys", "rate", "ente_rates"})
    if "keys" not in data:
        raise ConfigError(f"{path}: no [[keys]] entries")
    return dict(data)


def load_population_file(path: Path) -> dict[str, str]:
    """Fiscal code → ``allowed``/``blocked``/``missing`` from CSV or JSON.

    CSV: a header with ``fiscal_code`` and ``state``. JSON: ``{"CF": "state"}`` or a list
    of ``{"fiscal_code": ..., "state": ...}`` objects.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read population file {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        rows = _json_rows(path, text)
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"fiscal_code", "state"} <= set(reader.fieldnames):
            raise ConfigError(f"{path}: the CSV header needs 'fiscal_code' and 'state'")
        rows = [(row["fiscal_code"], row["state"]) for row in reader]
    states: dict[str, str] = {}
    for number, (code, state) in enumerate(rows, start=1):
        code, state = str(code).strip().upper(), str(state).strip().lower()
        if state not in CITIZEN_STATES:
            raise ConfigError(f"{path}: entry {number}: state {state!r} is not one of "
                              f"{', '.join(CITIZEN_STATES)}")
        states[code] = state
    return states


def _json_rows(path: Path, text: str) -> list[tuple[Any, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if isinstance(data, dict):
        return list(data.items())
    if isinstance(data, list) and all(isinstance(d, dict) for d in data):
        return [(d.get("fiscal_code", ""), d.get("state", "")) for d in data]
    raise ConfigError(f"{path}: expected an object or a list of objects")


def _read_structured(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return _mapping(str(path), data)


def _key(raw: Any) -> KeyConfig:
    data = dict(_mapping("keys[]", raw))
    _reject_unknown("key", data, {f.name for f in fields(KeyConfig)})
    if "key" not in data:
        raise ConfigError("every key needs a 'key'")
    template = KeyConfig(key=str(data["key"]))
    return _patch(template, data, "key")


def _rate(raw: Any, base: RatePolicy) -> RatePolicy:
    if isinstance(raw, str):
        return RatePolicy.parse(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw == 0:
        return RatePolicy(limit=0)
    return _patch(base, raw, "rate")


def _patch(base: _T, raw: Any, where: str) -> _T:
    """``base`` with the fields of ``raw`` replaced, each checked against the base's type."""
    data = _mapping(where, raw)
    names = {f.name for f in fields(base)}  # type: ignore[arg-type]
    _reject_unknown(where, data, names)
    updates = {name: _coerce(f"{where}.{name}", getattr(base, name), value)
               for name, value in data.items()}
    return replace(base, **updates)  # type: ignore[type-var]


def _coerce(name: str, current: Any, value: Any) -> Any:
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer")
        return value
    if isinstance(current, float):
        return _number(name, value)
    if isinstance(current, frozenset):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        return frozenset(str(v).strip() for v in _list(name, value))
    if current is None or isinstance(current, str):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
        return value
    raise ConfigError(f"{name} cannot be changed")  # pragma: no cover - no such field today


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number")
    return float(value)


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be an object")
    return value


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{name} must be a list")
    return list(value)


def _reject_unknown(where: str, data: Mapping[str, Any], known: set[str]) -> None:
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {sorted(unknown)}; "
                          f"known: {sorted(known)}")


def _plain(obj: Any, *, mask_key: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        if mask_key and f.name == "key":
            value = value[:4] + "…" if len(value) > 4 else "…"
        out[f.name] = value
    return out
