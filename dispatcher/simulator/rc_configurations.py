"""Remote-content configurations as IO keeps them: decoded bodies, owners, server-made ULIDs.

IO's rc-func stores one configuration per ``configuration_id`` (a ULID it makes) with the
APIM user that created it; only that user may read or update it, and ``POST /messages``
refuses a ``configuration_id`` that is unknown (404) or owned by someone else (403)
(FACTS-REMOTE-CONTENT §4). This module is the store and the body decoder; the HTTP face is
``rc_api.py`` and the app's use of a configuration is ``app_open.py``.

Ids listed in a key's ``remote_configurations`` (the key config) are *seeded*: they exist
from the start, owned by that key's ente, with no environment, so a submit naming them works
as before and an ``update`` can point them at a content server. Seeded entries follow the
key config when it changes; configurations created through the API stay until a reset.

The decoder follows IO's runtime codec, like ``validation.py``: unknown fields are dropped,
``has_precondition`` is one of ALWAYS, ONCE, NEVER (the guide's "NONE" is refused: the enum
does not hold it), fiscal codes match IO's pattern, strings are non-empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ulid import ULID

from dispatcher.simulator.validation import (
    _MISSING,  # io-ts' ``undefined``: the reporter prints it so
    FISCAL_CODE,
    FISCAL_CODE_TYPE,
    PRECONDITIONS,
    _Report,
)

BODY_TYPE = "NewRCConfigurationPublic"
API_KEY_AUTH = "API-KEY"
"""The only ``details_authentication.type`` IO's backend knows how to send."""

@dataclass(slots=True)
class StoredConfiguration:
    """One configuration: its id, the APIM user (ente) that owns it, and its decoded body."""

    configuration_id: str
    owner: str
    body: dict[str, Any]
    seeded: bool = False

    def public(self) -> dict[str, Any]:
        """``RCConfigurationPublic``: what create answers (IO echoes the keys back)."""
        return {"configuration_id": self.configuration_id, **self.body}

    def response(self) -> dict[str, Any]:
        """``RCConfigurationResponse``: what read and list answer, with ``user_id``."""
        return {**self.public(), "user_id": self.owner}

    def environment_for(self, fiscal_code: str) -> tuple[str, dict[str, Any]] | None:
        """``("test", env)`` for a listed test user, else ``("prod", env)``; None without one.

        IO's backend serves ``test_users`` from ``test_environment`` and everyone else from
        ``prod_environment`` (FACTS-REMOTE-CONTENT §2).
        """
        test = self.body.get("test_environment")
        if test is not None and fiscal_code in test["test_users"]:
            return "test", test
        prod = self.body.get("prod_environment")
        return ("prod", prod) if prod is not None else None

    def lollipop_for(self, fiscal_code: str) -> bool:
        """Whether IO signs this citizen's requests to the ente (Lollipop)."""
        body = self.body
        return bool(body["is_lollipop_enabled"]) and fiscal_code not in body[
            "disable_lollipop_for"]


def seeded_body(owner: str) -> dict[str, Any]:
    """The body of a configuration declared in the key config: valid, with no environment."""
    return {
        "name": f"configuration of {owner}",
        "description": "declared in the simulator's key config (remote_configurations); "
                       "an update sets its environments",
        "has_precondition": "NEVER",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
    }


class ConfigurationStore:
    """Configurations by id; seeded from the key config's claims (id → owning ente)."""

    def __init__(self, claims: Mapping[str, str]) -> None:
        self._by_id: dict[str, StoredConfiguration] = {}
        self.reseed(claims)

    def reseed(self, claims: Mapping[str, str]) -> None:
        """Make the seeded entries match ``claims``; created configurations are kept.

        A claim that names a configuration created through the API takes it over (the key
        config is the operator's word); a seeded entry no longer claimed disappears.
        """
        for conf_id, stored in list(self._by_id.items()):
            if stored.seeded and conf_id not in claims:
                del self._by_id[conf_id]
        for conf_id, owner in claims.items():
            stored = self._by_id.get(conf_id)
            if stored is None:
                self._by_id[conf_id] = StoredConfiguration(conf_id, owner, seeded_body(owner),
                                                           seeded=True)
            else:
                stored.owner = owner

    def get(self, configuration_id: str) -> StoredConfiguration | None:
        return self._by_id.get(configuration_id)

    def owner_of(self, configuration_id: str) -> str | None:
        stored = self._by_id.get(configuration_id)
        return None if stored is None else stored.owner

    def owned_by(self, owner: str) -> list[StoredConfiguration]:
        return [c for c in self._by_id.values() if c.owner == owner]

    def create(self, owner: str, body: dict[str, Any]) -> StoredConfiguration:
        stored = StoredConfiguration(str(ULID()), owner, body)
        self._by_id[stored.configuration_id] = stored
        return stored

    def update(self, configuration_id: str, body: dict[str, Any]) -> None:
        """Replace the whole body (IO's PUT takes a full ``NewRCConfigurationPublic``)."""
        self._by_id[configuration_id].body = body

    def __len__(self) -> int:
        return len(self._by_id)


def decode_configuration(raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """A ``NewRCConfigurationPublic`` as IO's codec reads it, or the failures io-ts reports."""
    report = _Report()
    if not isinstance(raw, dict):
        report.fail("", raw, BODY_TYPE)
        return None, report.errors
    body: dict[str, Any] = {
        "name": report.text(raw.get("name", _MISSING), "name", 1, None),
        "description": report.text(raw.get("description", _MISSING), "description", 1, None),
        "has_precondition": report.enum(raw.get("has_precondition", _MISSING),
                                        "has_precondition", PRECONDITIONS, "HasPrecondition"),
        "disable_lollipop_for": _fiscal_codes(report, raw.get("disable_lollipop_for", _MISSING),
                                              "disable_lollipop_for"),
        "is_lollipop_enabled": report.boolean(raw.get("is_lollipop_enabled", _MISSING),
                                              "is_lollipop_enabled"),
    }
    for name, with_users in (("prod_environment", False), ("test_environment", True)):
        if raw.get(name) is not None:
            body[name] = _environment(report, raw[name], name, with_users)
    if report.errors:
        return None, report.errors
    return body, []


def _environment(report: _Report, raw: Any, path: str, with_users: bool) -> dict[str, Any] | None:
    kind = "RCConfigurationTestEnvironment" if with_users else "RCConfigurationProdEnvironment"
    if not isinstance(raw, dict):
        report.fail(path, raw, kind)
        return None
    auth = raw.get("details_authentication", _MISSING)
    out: dict[str, Any] = {
        "base_url": report.text(raw.get("base_url", _MISSING), f"{path}.base_url", 1, None),
        "details_authentication": _authentication(report, auth,
                                                  f"{path}.details_authentication"),
    }
    if with_users:
        out["test_users"] = _fiscal_codes(report, raw.get("test_users", _MISSING),
                                          f"{path}.test_users")
    return out


def _authentication(report: _Report, raw: Any, path: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        report.fail(path, raw, "RCAuthenticationConfig")
        return None
    return {name: report.text(raw.get(name, _MISSING), f"{path}.{name}", 1, None)
            for name in ("header_key_name", "key", "type")}


def _fiscal_codes(report: _Report, raw: Any, path: str) -> list[str] | None:
    if not isinstance(raw, list):
        report.fail(path, raw, f"Array<{FISCAL_CODE_TYPE}>")
        return None
    codes = [report.pattern(item, f"{path}.{i}", FISCAL_CODE, FISCAL_CODE_TYPE)
             for i, item in enumerate(raw)]
    return [code for code in codes if code is not None]
