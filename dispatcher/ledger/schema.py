"""The ledger's tables. ``rows`` holds one row per input row; ``events`` every state change,
so the history of any row can be told; ``run_seconds`` the per-second counters of a run.

``message_status`` holds the latest IO status of each sent message and ``status_checks``
every observation (``dispatcher status``); ``test_sends`` the messages sent to test
recipients (``dispatcher test``), which are never rows of the campaign.

Version 2 added tables; version 3 added columns (:data:`ADDED_COLUMNS`): ``rows.body``, the
message a resumed run sends without reading the campaign file again, and
``campaigns.recorded``, false until every row of a campaign is recorded; version 4
``campaigns.encoding``, how the campaign file's text was read (``utf-8``, ``cp1252``; none for
a spreadsheet), and the audit trail of each run (``runs.operator``, ``version``, ``command``,
``settings``; :mod:`dispatcher.audit`); version 5 ``rows.send_after``, the Unix time before
which a row is not sent (the campaign's ``invia_dal`` column), so a resume that reads no file
still knows it. ``CREATE TABLE IF NOT EXISTS`` adds missing tables
but never a column, so :func:`upgrade` adds those.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.storage import Database

SCHEMA_VERSION = 5
UPGRADABLE_VERSIONS = (1, 2, 3, 4)


@dataclass(frozen=True)
class AddedColumn:
    """A column added after schema 1, and what an older ledger reads in its place."""

    table: str
    name: str
    definition: str
    stand_in: str  # the SQL value a ledger without the column reads

    def present_in(self, db: Database) -> bool:
        return any(info[1] == self.name
                   for info in db.execute(f"PRAGMA main.table_info({self.table})"))


ADDED_COLUMNS = (
    AddedColumn("rows", "body", "BLOB", "NULL"),
    AddedColumn("campaigns", "recorded", "INTEGER NOT NULL DEFAULT 1", "1"),
    AddedColumn("campaigns", "encoding", "TEXT", "NULL"),
    AddedColumn("runs", "operator", "TEXT", "NULL"),
    AddedColumn("runs", "version", "TEXT", "NULL"),
    AddedColumn("runs", "command", "TEXT", "NULL"),
    AddedColumn("runs", "settings", "TEXT", "NULL"),
    AddedColumn("rows", "send_after", "REAL", "NULL"),
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id INTEGER PRIMARY KEY,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    template_sha256 TEXT,
    created_at REAL NOT NULL,
    completed_at REAL,
    recorded INTEGER NOT NULL DEFAULT 1,
    encoding TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(campaign_id),
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    rate TEXT,
    requests INTEGER,
    throttled INTEGER,
    stopped_reason TEXT,
    exit_code INTEGER,
    operator TEXT,
    version TEXT,
    command TEXT,
    settings TEXT
);
CREATE TABLE IF NOT EXISTS rows (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(campaign_id),
    row INTEGER NOT NULL,
    fiscal_code TEXT NOT NULL,
    state TEXT NOT NULL,
    content_hash TEXT,
    message_id TEXT,
    http_status INTEGER,
    detail TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    sending_at REAL,
    decided_at REAL,
    run_id INTEGER,
    body BLOB,
    send_after REAL,
    PRIMARY KEY (campaign_id, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    campaign_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    at REAL NOT NULL,
    run_id INTEGER,
    state TEXT NOT NULL,
    http_status INTEGER,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_row ON events (campaign_id, row);
CREATE TABLE IF NOT EXISTS run_seconds (
    run_id INTEGER NOT NULL,
    second INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    throttled INTEGER NOT NULL,
    target_rate REAL,
    current_rate REAL,
    PRIMARY KEY (run_id, second)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS message_status (
    campaign_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    status TEXT,
    read_status TEXT,
    payment_status TEXT,
    http_status INTEGER,
    detail TEXT,
    first_checked_at REAL NOT NULL,
    checked_at REAL NOT NULL,
    status_since REAL,
    checks INTEGER NOT NULL,
    final INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_checks (
    campaign_id INTEGER NOT NULL,
    row INTEGER NOT NULL,
    at REAL NOT NULL,
    status TEXT,
    read_status TEXT,
    payment_status TEXT,
    http_status INTEGER,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS status_checks_by_row ON status_checks (campaign_id, row);
CREATE TABLE IF NOT EXISTS status_runs (
    status_run_id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    asked INTEGER,
    requests INTEGER,
    throttled INTEGER
);
CREATE TABLE IF NOT EXISTS test_sends (
    test_id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    template_sha256 TEXT,
    source_row INTEGER NOT NULL,
    recipient TEXT NOT NULL,
    content_hash TEXT,
    outcome TEXT NOT NULL,
    message_id TEXT,
    http_status INTEGER,
    detail TEXT
);
"""


def schema_version(db: Database) -> int | None:
    found = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(found[0]) if found else None


def upgrade(db: Database) -> None:
    """Stamp a new ledger, or bring an older one to :data:`SCHEMA_VERSION`, in one commit.

    Run after ``SCHEMA`` (which adds the missing tables); raises ``ValueError`` for a schema
    this version does not know (a newer dispatcher's ledger).
    """
    with db.transaction():
        version = schema_version(db)
        if version == SCHEMA_VERSION:
            return
        if version is not None and version not in UPGRADABLE_VERSIONS:
            raise ValueError(f"ledger schema {version}, expected {SCHEMA_VERSION}")
        for column in ADDED_COLUMNS:
            if not column.present_in(db):
                db.execute(f"ALTER TABLE {column.table} ADD COLUMN {column.name} "
                           f"{column.definition}")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                   (str(SCHEMA_VERSION),))
