"""``dispatcher content serve|prune``: where the store is, what to serve, what to remove.

The store of a service lives beside its send journal, ``$XDG_STATE_HOME/dispatcher/content/
<service fingerprint>.sqlite`` (the fingerprint of base URL and IO key, as for the journal;
the key itself is never stored), unless ``--content-store`` or the ``content_store`` setting
names another file. A content server on another machine than the sender names the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from dispatcher.content.auth import read_content_key
from dispatcher.content.server import LollipopMode, ServerOptions
from dispatcher.content.store import ContentStore, ContentStoreError, PruneResult
from dispatcher.journal import state_directory
from dispatcher.operations.errors import OperationRefused
from dispatcher.settings import ConfigError, Settings
from dispatcher.vocabulary import ExitCode

__all__ = ["PruneOutcome", "ServePlan", "content_store_path", "default_content_store_path",
           "parse_before", "plan_server", "prune_content", "read_opens", "report_content_store"]

ROME = ZoneInfo("Europe/Rome")


def default_content_store_path(service: str) -> Path:
    """Where the content store of ``service`` (a fingerprint, never the key) lives."""
    return state_directory() / "content" / f"{service}.sqlite"


def content_store_path(settings: Settings, override: Path | None = None) -> Path:
    """``--content-store``, else the ``content_store`` setting, else the service's default."""
    from dispatcher.operations.send_guard import same_service_url
    from dispatcher.profilecache import service_fingerprint

    if override is not None:
        return Path(override)
    if settings.content_store is not None:
        return settings.content_store
    if not settings.api_key:
        raise ConfigError(
            "which content store? Name it with --content-store (or the content_store "
            "setting), or set IO_API_KEY / IO_API_KEY_FILE to use the service's default one")
    return default_content_store_path(
        service_fingerprint(same_service_url(settings.base_url), settings.require_api_key()))


def read_opens(path: Path | None, ids: Iterable[str]) -> dict[str, tuple[datetime, int]] | None:
    """Third-party id → (first opened, opens) for ``ids``, as the store at ``path`` knows;
    None when there is no store there (a report never creates one) or no id to ask about."""
    wanted = sorted(set(ids))
    if path is None or not wanted or not Path(path).is_file():
        return None
    try:
        with ContentStore.open(path) as store:
            found = store.opens(wanted)
    except ContentStoreError:
        return None
    return {tid: (summary.first_opened_at, summary.opens) for tid, summary in found.items()}


def report_content_store(settings: Settings | None, override: Path | None) -> Path | None:
    """The store a report reads opens from: ``--content-store``, else the settings' store,
    else the service's default when a key names the service; None when nothing does."""
    if override is not None:
        return override
    if settings is None:
        return None
    try:
        return content_store_path(settings)
    except ConfigError:
        return None


def parse_before(text: str) -> datetime:
    """``2027-03-01`` (midnight starting that day, Italian time) or an ISO date-time (Italian
    time unless it carries ``Z`` or an offset). ValueError names the expected forms."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day, time(0), ROME)
    for italian in ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):  # as the campaign files write them
        try:
            return datetime.strptime(value, italian).replace(tzinfo=ROME)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2027-03-01 or 01/03/2027, or a "
                         "date-time like 2027-03-01T08:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ROME)


@dataclass(frozen=True)
class ServePlan:
    """A content server ready to start: its options and what its store holds now."""

    options: ServerOptions
    messages: int


def plan_server(settings: Settings, *, store: Path | None, header_key_name: str,
                lollipop: LollipopMode, max_in_flight: int, root_path: str = "",
                environ: dict[str, str] | None = None) -> ServePlan:
    """Check everything the server needs before it listens: key, header name, store."""
    from dispatcher.content.auth import check_header_name

    try:
        key = read_content_key(environ)
        check_header_name(header_key_name)
        path = content_store_path(settings, store)
    except ConfigError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
    try:
        with ContentStore.open(path) as opened:
            messages = opened.count()
    except ContentStoreError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
    options = ServerOptions(store_path=path, key=key, header_key_name=header_key_name,
                            lollipop=lollipop, max_in_flight=max_in_flight,
                            root_path=root_path)
    return ServePlan(options, messages)


@dataclass(frozen=True)
class PruneOutcome:
    """What ``content prune`` did; ``remaining`` messages can still be opened."""

    path: Path
    before: datetime
    result: PruneResult
    remaining: int
    exit_code: ExitCode = ExitCode.OK


def prune_content(settings: Settings, before: datetime, *, store: Path | None = None
                  ) -> PruneOutcome:
    """Remove what was registered before ``before``; refuse a store that does not exist
    (pruning must never create an empty store where the operator expected one), and a
    date still to come (a typo such as 2072 would make every message unreadable)."""
    if before > datetime.now(ROME):
        raise OperationRefused(
            f"--before {before.date().isoformat()} is not in the past: pruning up to a date "
            "still to come would make messages unreadable that citizens may be opening "
            "today; give a date in the past", ExitCode.INVALID_INPUT)
    try:
        path = content_store_path(settings, store)
    except ConfigError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
    if not path.is_file():
        raise OperationRefused(f"no content store at {path}: nothing to prune",
                               ExitCode.CONFIG_ERROR)
    try:
        with ContentStore.open(path) as opened:
            result = opened.prune(before)
            remaining = opened.count()
    except ContentStoreError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
    except sqlite3.Error as exc:  # busy past the timeout, disk full: nothing was removed
        raise OperationRefused(f"content store {path}: {exc}; nothing was removed",
                               ExitCode.CONFIG_ERROR) from None
    return PruneOutcome(path, before, result, remaining)
