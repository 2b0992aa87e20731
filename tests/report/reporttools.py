"""Helpers for report tests: a ledger with one row of every kind, a strict Prometheus parser.

The mixed ledger is built through the :class:`~dispatcher.ledger.Ledger` API (the same calls
``run`` and ``status`` make), then its run times are pinned so durations and rates are exact.
"""

from __future__ import annotations

import csv
import math
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from enginetools import GENERATE

from dispatcher.campaign.source import file_sha256
from dispatcher.ledger import Ledger, NewRow, Outcome, StatusObservation, TimelineSample
from dispatcher.vocabulary import RowState

T0 = 1_800_000_000.0
"""When the mixed campaign's run started (2027-01-15T08:00:00Z)."""
RUN_SECONDS = 40.0
RUN_REQUESTS = 100
RUN_THROTTLED = 3

# Row numbers of the mixed campaign (spreadsheet rows: the header is row 1).
SENT_PROCESSED = 2  # read and paid
SENT_REJECTED = 3  # IO REJECTED after processing
SENT_UNCHECKED = 4  # sent, never asked about
SENT_ACCEPTED = 5
SENT_FAILED = 6  # IO FAILED after processing
SENT_THROTTLED = 7
NO_PROFILE = 8
NOT_ALLOWED = 9
INVALID = 10
DUPLICATE = 11
REJECTED = 12  # 400 at submit
FAILED = 13  # never reached IO
AMBIGUOUS = 14
AMBIGUOUS_2 = 15
ROWS = tuple(range(2, 16))

IO_OBSERVED = {
    SENT_PROCESSED: ("PROCESSED", "READ", "PAID"),
    SENT_REJECTED: ("REJECTED", None, None),
    SENT_ACCEPTED: ("ACCEPTED", "UNREAD", "NOT_PAID"),
    SENT_FAILED: ("FAILED", None, None),
    SENT_THROTTLED: ("THROTTLED", None, None),
}
SENT_ROWS = (SENT_PROCESSED, SENT_REJECTED, SENT_UNCHECKED, SENT_ACCEPTED, SENT_FAILED,
             SENT_THROTTLED)
STATE_OF: dict[int, RowState] = {
    **dict.fromkeys(SENT_ROWS, RowState.SENT),
    NO_PROFILE: RowState.NO_PROFILE,
    NOT_ALLOWED: RowState.SENDER_NOT_ALLOWED,
    INVALID: RowState.INVALID,
    DUPLICATE: RowState.DUPLICATE,
    REJECTED: RowState.REJECTED,
    FAILED: RowState.FAILED,
    AMBIGUOUS: RowState.AMBIGUOUS,
    AMBIGUOUS_2: RowState.AMBIGUOUS,
}
"""The outcome of every row of the mixed campaign."""

INPUT_HEADER = ("codice_fiscale", "nome", "cognome", "importo")


@dataclass
class MixedLedger:
    path: Path
    campaign_id: int
    input_file: Path
    codes: dict[int, str]  # row → fiscal code
    details: dict[int, str] = field(default_factory=dict)  # row → error detail we recorded

    def open(self) -> Ledger:
        return Ledger.open(self.path)


def fiscal_codes(count: int, seed: int = 5) -> list[str]:
    """Distinct valid fiscal codes of invented people."""
    return [row[0] for row in GENERATE.tari_rows(count, seed)]


def write_input(path: Path, codes: dict[int, str]) -> Path:
    """The campaign file the mixed ledger was 'sent' from (``;``, BOM, like Italian Excel)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, delimiter=";", lineterminator="\r\n")
        writer.writerow(INPUT_HEADER)
        for row in sorted(codes):
            writer.writerow([codes[row], f"Nome{row}", f"Cognome{row}", str(1000 + row)])
    return path


def build_mixed_ledger(
    path: Path,
    *,
    input_file: Path | None = None,
    recorded_path: str | None = None,
    details: dict[int, str] | None = None,
) -> MixedLedger:
    """A finished campaign with every outcome, every IO status and a run with a 429.

    ``details`` overrides the error detail of rows (REJECTED, FAILED, AMBIGUOUS...).
    """
    codes = dict(zip(ROWS, fiscal_codes(len(ROWS)), strict=True))
    input_file = write_input(input_file or path.parent.parent / "tari.csv", codes)
    chosen = {
        NO_PROFILE: "no IO profile for this citizen",
        NOT_ALLOWED: "the citizen blocked this service",
        INVALID: "fiscal_code: wrong check character",
        DUPLICATE: "same fiscal code as row 2",
        REJECTED: f"-1 is not a valid amount for {codes[REJECTED]}",
        FAILED: "=connect error: connection refused",
        AMBIGUOUS: "@read timeout after the request was sent",
        AMBIGUOUS_2: "+504 from the gateway: Gateway Timeout",
        **(details or {}),
    }
    with Ledger.open(path) as ledger:
        new_rows = []
        for row in ROWS:
            if STATE_OF[row] in (RowState.INVALID, RowState.DUPLICATE):
                new_rows.append(NewRow(row, codes[row], STATE_OF[row], None, chosen[row]))
            else:
                new_rows.append(NewRow(row, codes[row], RowState.PENDING, f"hash-{row}"))
        campaign_id = ledger.campaigns.start(
            input_path=recorded_path or str(input_file), input_sha256=file_sha256(input_file),
            template_sha256="1" * 64, rows=new_rows,
        )
        run_id = ledger.runs.begin(campaign_id, rate="120/5s")
        submitted = [r for r in ROWS if STATE_OF[r] in (
            RowState.SENT, RowState.REJECTED, RowState.FAILED, RowState.AMBIGUOUS)]
        ledger.rows.mark_sending(campaign_id, run_id, submitted)
        outcomes = []
        for row in ROWS:
            state = STATE_OF[row]
            if state is RowState.SENT:
                outcomes.append(Outcome(row, state, 201, f"01MSGID{row:04d}", None, 1))
            elif state is RowState.NO_PROFILE:
                outcomes.append(Outcome(row, state, 404, None, chosen[row], 1))
            elif state is RowState.SENDER_NOT_ALLOWED:
                outcomes.append(Outcome(row, state, 200, None, chosen[row], 1))
            elif state is RowState.REJECTED:
                outcomes.append(Outcome(row, state, 400, None, chosen[row], 1))
            elif state is RowState.FAILED:
                outcomes.append(Outcome(row, state, None, None, chosen[row], 3))
            elif state is RowState.AMBIGUOUS:
                outcomes.append(Outcome(row, state, 504, None, chosen[row], 1))
        ledger.rows.record_outcomes(campaign_id, run_id, outcomes)
        timeline = [
            TimelineSample(int(T0) + s, 10, RUN_THROTTLED if s == 3 else 0,
                           24.0 if s < 4 else 16.8, 24.0 if s < 3 else 16.8)
            for s in range(10)
        ]
        ledger.runs.finish(run_id, requests=RUN_REQUESTS, throttled=RUN_THROTTLED,
                           stopped_reason=None, exit_code=3, timeline=timeline)
        status_run = ledger.statuses.begin_pass(campaign_id)
        ledger.statuses.record(campaign_id, [
            StatusObservation(row, f"01MSGID{row:04d}", T0 + 3600, status, read, payment, 200,
                              f"IO could not deliver to {codes[row]}"
                              if status == "FAILED" else None)
            for row, (status, read, payment) in IO_OBSERVED.items()
        ])
        ledger.statuses.finish_pass(status_run, asked=len(IO_OBSERVED), requests=len(IO_OBSERVED),
                                    throttled=0)
        ledger.campaigns.complete(campaign_id)
    pin_run(path, run_id, started_at=T0, finished_at=T0 + RUN_SECONDS)
    return MixedLedger(path, campaign_id, input_file, codes, chosen)


def pin_run(path: Path, run_id: int, *, started_at: float, finished_at: float | None) -> None:
    """Give a run exact times (the Ledger API stamps the wall clock)."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET started_at=?, finished_at=? WHERE run_id=?",
                   (started_at, finished_at, run_id))
    db.close()


def ledger_dump(path: Path) -> str:
    """The whole content of a SQLite file, as SQL, read without writing anything."""
    db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return "\n".join(db.iterdump())
    finally:
        db.close()


# -- a strict reader of the Prometheus text exposition format (0.0.4) ----------------------

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
KINDS = ("counter", "gauge", "histogram", "summary", "untyped")


class ExpositionError(AssertionError):
    pass


@dataclass
class Exposition:
    types: dict[str, str] = field(default_factory=dict)
    helps: dict[str, str] = field(default_factory=dict)
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        """The one sample of ``name`` whose labels include ``labels``."""
        found = [v for (n, ls), v in self.samples.items()
                 if n == name and set(labels.items()) <= set(ls)]
        if len(found) != 1:
            raise KeyError(f"{name}{labels}: {len(found)} samples")
        return found[0]

    def series(self, name: str) -> list[dict[str, str]]:
        return [dict(ls) for (n, ls) in self.samples if n == name]


def _labels(text: str, line: str) -> dict[str, str]:
    """Parse ``a="x",b="y\\"z"`` exactly; anything else is an error."""
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        match = LABEL_NAME.match(text, i)
        if not match:
            raise ExpositionError(f"bad label name at {i}: {line!r}")
        name = match.group()
        if name.startswith("__"):
            raise ExpositionError(f"reserved label name {name}: {line!r}")
        i = match.end()
        if text[i:i + 2] != '="':
            raise ExpositionError(f'expected =" after {name}: {line!r}')
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise ExpositionError(f"unterminated label value: {line!r}")
            ch = text[i]
            if ch == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ExpositionError(f"bad escape \\{nxt}: {line!r}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch == "\n":
                raise ExpositionError(f"raw newline in label value: {line!r}")
            else:
                value.append(ch)
                i += 1
        if name in labels:
            raise ExpositionError(f"label {name} twice: {line!r}")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise ExpositionError(f"expected , between labels: {line!r}")
            i += 1
    return labels


def _float(text: str, line: str) -> float:
    if text in ("NaN", "+Inf", "-Inf"):
        return float(text.replace("+", ""))
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
        raise ExpositionError(f"bad value {text!r}: {line!r}")
    return float(text)


def parse_exposition(text: str) -> Exposition:
    """Parse a textfile as node_exporter's collector would, and stricter.

    HELP and TYPE come at most once per family and before its first sample; the samples of a
    family are contiguous; every sample belongs to a family with a TYPE; names and labels
    follow the grammar; values are floats; no timestamps (the textfile collector rejects
    them); no duplicate series; the file ends with a newline.
    """
    if not text.endswith("\n"):
        raise ExpositionError("the file must end with a newline")
    out = Exposition()
    finished: set[str] = set()
    current: str | None = None
    for line in text[:-1].split("\n"):
        if not line.strip():
            raise ExpositionError("blank line")
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE"):
                raise ExpositionError(f"a comment that is neither HELP nor TYPE: {line!r}")
            keyword, name = parts[1], parts[2]
            if not METRIC_NAME.fullmatch(name):
                raise ExpositionError(f"bad metric name: {line!r}")
            if name in finished or (current is not None and current != name
                                    and name in out.types):
                raise ExpositionError(f"{name} is not contiguous: {line!r}")
            if current is not None and current != name:
                finished.add(current)
            current = name
            rest = parts[3] if len(parts) == 4 else ""
            if keyword == "HELP":
                if name in out.helps:
                    raise ExpositionError(f"HELP twice for {name}")
                if re.search(r"\\[^\\n]", rest):
                    raise ExpositionError(f"bad escape in HELP: {line!r}")
                out.helps[name] = rest
            else:
                if name in out.types:
                    raise ExpositionError(f"TYPE twice for {name}")
                if any(n == name for n, _ in out.samples):
                    raise ExpositionError(f"TYPE after samples of {name}")
                if rest not in KINDS:
                    raise ExpositionError(f"bad type {rest!r}: {line!r}")
                out.types[name] = rest
            continue
        match = METRIC_NAME.match(line)
        if not match:
            raise ExpositionError(f"bad sample line: {line!r}")
        name = match.group()
        rest = line[match.end():]
        labels: dict[str, str] = {}
        if rest.startswith("{"):
            close = _closing_brace(rest, line)
            labels = _labels(rest[1:close], line)
            rest = rest[close + 1:]
        if not rest.startswith(" ") or rest.startswith("  "):
            raise ExpositionError(f"one space before the value: {line!r}")
        fields = rest[1:].split(" ")
        if len(fields) != 1:
            raise ExpositionError(f"a timestamp or trailing text: {line!r}")
        value = _float(fields[0], line)
        if name not in out.types:
            raise ExpositionError(f"sample of {name} without TYPE: {line!r}")
        if name != current:
            raise ExpositionError(f"sample of {name} outside its family: {line!r}")
        key = (name, frozenset(labels.items()))
        if key in out.samples:
            raise ExpositionError(f"duplicate series: {line!r}")
        if not math.isfinite(value) and out.types[name] == "counter":
            raise ExpositionError(f"a counter that is not finite: {line!r}")
        out.samples[key] = value
    return out


def _closing_brace(rest: str, line: str) -> int:
    """Index of the ``}`` closing the label set (braces inside quoted values do not count)."""
    quoted = escaped = False
    for i, ch in enumerate(rest):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "}" and not quoted:
            return i
    raise ExpositionError(f"unterminated label set: {line!r}")
