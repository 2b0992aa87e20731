"""The send journal: what one IO service sent to whom, shared by every ledger on the machine.

Why beside the ledgers: a ledger guards one campaign file. A copy of the file (``tari (1).csv``),
a symlink, a second ``--ledger`` or two runs started together each get their own ledger, and
each would send everything again. IO has no idempotency key, so the only place that can say
"this service already sent this message to this citizen" is one the sender keeps itself.

One SQLite database per service (a fingerprint of base URL and key names it; the key itself is
never stored), in the user's state directory unless the settings or ``--journal`` say
otherwise. One entry per (citizen, content): the fiscal code as its SHA-256 (the journal
needs to recognise a citizen, not to name one), the content hash of the message, and a state:

* ``reserved``: a run committed its intent to send and its ``POST`` may be on the wire;
* ``sent``: IO answered 201 with this message id;
* ``ambiguous``: the answer was lost; IO may have stored it.

Reserving is one ``BEGIN IMMEDIATE`` transaction, so two processes cannot both reserve the
same entry; the winner sends, the other learns it is taken. A reservation that ends without a
message (refused, failed, never left) is released. A reservation left by a run that died is
read as "may have been sent", the same caution as an interrupted row in a ledger.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from dispatcher.storage import Database, StorageError, open_database, private_folder

__all__ = [
    "Earlier",
    "EntryState",
    "JournalError",
    "Owner",
    "Reservation",
    "Reserved",
    "SendJournal",
    "default_journal_path",
    "state_directory",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    recipient TEXT NOT NULL,           -- sha256 of the upper-case fiscal code
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,               -- reserved | sent | ambiguous
    message_id TEXT,
    campaign TEXT NOT NULL,            -- who sent it, in words: file, campaign, ledger
    ledger TEXT NOT NULL,              -- the owner: resolved ledger path ...
    campaign_id INTEGER NOT NULL,      -- ... campaign ...
    row INTEGER NOT NULL,              -- ... and row
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    reserved_at REAL NOT NULL,
    settled_at REAL,
    PRIMARY KEY (recipient, content_hash)
);
CREATE INDEX IF NOT EXISTS entries_by_owner ON entries (ledger, campaign_id, state);
"""


class JournalError(Exception):
    """The journal cannot be opened; the message names its path."""


class EntryState(StrEnum):
    RESERVED = "reserved"
    SENT = "sent"
    AMBIGUOUS = "ambiguous"


def state_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/dispatcher``, else ``~/.local/state/dispatcher``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) /
                                            ".local" / "state")
    return Path(base) / "dispatcher"


def default_journal_path(service: str, environ: Mapping[str, str] | None = None) -> Path:
    """Where the journal of ``service`` (a fingerprint, never the key) lives by default."""
    return state_directory(environ) / "journals" / f"{service}.sqlite"


def recipient_hash(fiscal_code: str) -> str:
    return hashlib.sha256(fiscal_code.strip().upper().encode()).hexdigest()


@dataclass(frozen=True)
class Owner:
    """The ledger campaign whose rows reserve entries; ``label`` is how others read it."""

    ledger: str  # resolved path: a symlink to the same ledger is the same owner
    campaign_id: int
    label: str
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


@dataclass(frozen=True, slots=True)
class Reservation:
    """One row that is about to be sent: its recipient and its content."""

    row: int
    fiscal_code: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class Earlier:
    """A message this service already sent (or may have) to this citizen with this content."""

    state: EntryState
    message_id: str | None
    at: float
    campaign: str
    in_flight: bool  # reserved by a run that is still alive: it may yet release it

    def describe(self) -> str:
        """The row's detail: what was sent, when, by which campaign, and how to override."""
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        ident = f" as message {self.message_id}" if self.message_id else ""
        verb = {EntryState.SENT: "already sent",
                EntryState.AMBIGUOUS: "possibly sent already (answer lost)",
                EntryState.RESERVED: "possibly sent already (a run stopped while sending)",
                }[self.state]
        return (f"{verb}{ident} on {when} by {self.campaign}; "
                "pass --allow-resend to send it again")


@dataclass(frozen=True)
class Reserved:
    """What a reservation came to, per row: taken, refused (sent before), or postponed."""

    taken: tuple[int, ...]
    refused: Mapping[int, Earlier]
    postponed: Mapping[int, Earlier]  # reserved by another live run: try again later


class SendJournal:
    """The journal of one service. Synchronous: the run's writer thread calls it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.path = db.path

    @classmethod
    def open(cls, path: Path) -> SendJournal:
        path = Path(path)
        try:
            private_folder(path.parent)
            return cls(open_database(path, schema=_SCHEMA))
        except (StorageError, OSError) as exc:
            raise JournalError(f"send journal {path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SendJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- questions -----------------------------------------------------------------------

    def earlier(self, owner: Owner, items: Sequence[Reservation]) -> dict[int, Earlier]:
        """Rows of ``items`` that the service sent before (or may have), by another owner.

        A read, no lock: used to decide rows before their profile check. The reservation
        that decides is :meth:`reserve`.
        """
        found: dict[int, Earlier] = {}
        for item in items:
            entry = self._entry(recipient_hash(item.fiscal_code), item.content_hash)
            if entry is not None and (not _owned_by(entry, owner, item.row)
                                      or entry[0] == EntryState.SENT):
                found[item.row] = _earlier(entry)
        return found

    # -- moves ---------------------------------------------------------------------------

    def reserve(self, owner: Owner, items: Sequence[Reservation], *,
                allow_resend: bool = False) -> Reserved:
        """Reserve every row not sent before, in one transaction (atomic across processes).

        ``allow_resend`` takes an entry over even when the service sent it before: the
        operator's explicit choice (a reservation in flight in a live run is still respected).
        """
        now = time.time()
        taken: list[int] = []
        refused: dict[int, Earlier] = {}
        postponed: dict[int, Earlier] = {}
        with self._db.transaction() as db:
            for item in items:
                key = (recipient_hash(item.fiscal_code), item.content_hash)
                entry = self._entry(*key)
                if entry is not None and (not _owned_by(entry, owner, item.row)
                                          or entry[0] == EntryState.SENT):
                    earlier = _earlier(entry)
                    if earlier.in_flight:
                        postponed[item.row] = earlier
                        continue
                    if not allow_resend:
                        refused[item.row] = earlier
                        continue
                db.execute(
                    "INSERT OR REPLACE INTO entries (recipient, content_hash, state, "
                    "message_id, campaign, ledger, campaign_id, row, host, pid, reserved_at) "
                    "VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
                    (*key, EntryState.RESERVED, owner.label, owner.ledger, owner.campaign_id,
                     item.row, owner.host, owner.pid, now),
                )
                taken.append(item.row)
        return Reserved(tuple(taken), refused, postponed)

    def settle(self, owner: Owner, settled: Iterable[tuple[int, EntryState | None,
                                                           str | None]]) -> None:
        """Record how this owner's reserved rows ended: sent, ambiguous, or None (released)."""
        now = time.time()
        keep, release = [], []
        for row, state, message_id in settled:
            if state is None:
                release.append((owner.ledger, owner.campaign_id, row))
            else:
                keep.append((state, message_id, now, owner.ledger, owner.campaign_id, row))
        if not keep and not release:
            return
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE entries SET state=?, message_id=?, settled_at=? "
                "WHERE ledger=? AND campaign_id=? AND row=?", keep)
            db.executemany(
                "DELETE FROM entries WHERE ledger=? AND campaign_id=? AND row=? AND state=?",
                [(*r, EntryState.RESERVED) for r in release])

    def reserved_rows(self, owner: Owner) -> list[int]:
        """This owner's reservations not settled yet (a run that ended abruptly left them)."""
        return [row for (row,) in self._db.execute(
            "SELECT row FROM entries WHERE ledger=? AND campaign_id=? AND state=?",
            (owner.ledger, owner.campaign_id, EntryState.RESERVED))]

    def _entry(self, recipient: str, content_hash: str) -> tuple[object, ...] | None:
        return self._db.execute(
            "SELECT state, message_id, campaign, ledger, campaign_id, row, host, pid, "
            "reserved_at, settled_at FROM entries WHERE recipient=? AND content_hash=?",
            (recipient, content_hash),
        ).fetchone()


def _owned_by(entry: tuple[object, ...], owner: Owner, row: int) -> bool:
    return (entry[3], entry[4], entry[5]) == (owner.ledger, owner.campaign_id, row)


def _earlier(entry: tuple[object, ...]) -> Earlier:
    state, message_id, campaign, _, _, _, host, pid, reserved_at, settled_at = entry
    state = EntryState(str(state))
    in_flight = state is EntryState.RESERVED and _alive(str(host), int(str(pid)))
    at = float(str(settled_at if settled_at is not None else reserved_at))
    return Earlier(state, None if message_id is None else str(message_id), at, str(campaign),
                   in_flight)


def _alive(host: str, pid: int) -> bool:
    """Whether the process that reserved an entry still runs (another host: assume it does)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
