"""The ledger's tables. ``rows`` holds one row per input row; ``events`` every state change,
so the history of any row can be told; ``run_seconds`` the per-second counters of a run."""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id INTEGER PRIMARY KEY,
    input_path TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    template_sha256 TEXT,
    created_at REAL NOT NULL,
    completed_at REAL
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
    exit_code INTEGER
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
    PRIMARY KEY (campaign_id, row)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_recipient ON rows (fiscal_code, content_hash, state);
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
"""
