"""The machine summary of one campaign: what a monitor, a cron wrapper or a dashboard reads.

It answers "how did last night's campaign go?" in numbers: rows by outcome, sent messages by
IO status, rows needing attention, and the runs that did the work (how long, how many requests,
how many 429s, at what mean rate) plus the status passes that asked IO afterwards. The same
value feeds the JSON file, the Prometheus textfile and the HTML page, so they cannot disagree.

Every outcome and every IO status is listed, zeros included: an alert on
``dispatcher_rows{outcome="ambiguous"} > 0`` must see a 0, not a missing series.
"Complete" is :mod:`~dispatcher.report.settle`'s: every row final and none ambiguous.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.ledger import CampaignRecord, Ledger, RunRecord, StatusPassTotals
from dispatcher.report.labels import ATTENTION_IO_STATUSES, ATTENTION_STATES, IO_STATUSES
from dispatcher.report.opens import OpenTally
from dispatcher.report.settle import Completeness, SettleCommands, completeness
from dispatcher.vocabulary import RowState

SUMMARY_SCHEMA = 2
"""Bumped when a key of :meth:`CampaignSummary.to_dict` changes meaning or goes away
(2: ``campaign.complete`` counts ambiguous rows and open IO statuses as not complete)."""


@dataclass(frozen=True)
class CampaignSummary:
    ledger_path: Path
    campaign: CampaignRecord
    generated_at: float
    outcomes: dict[RowState, int]
    io_statuses: dict[str, int]
    runs: tuple[RunRecord, ...] = ()
    status_passes: StatusPassTotals = field(default_factory=StatusPassTotals)
    to_reach: int = 0  # rows the office must reach another way (report.reach)
    opens: OpenTally | None = None  # remote-content opens, when the content store was read
    settle: SettleCommands | None = None  # the commands that settle what is still open
    scheduled: int = 0  # pending rows whose send-after time is still ahead
    next_due: float | None = None  # the earliest of those times

    @property
    def completeness(self) -> Completeness:
        return completeness(self.outcomes, self.io_statuses,
                            self.campaign.completed_at is not None,
                            scheduled=self.scheduled, next_due=self.next_due)

    @property
    def input_name(self) -> str:
        """The campaign file's name, without its folders (they may say too much)."""
        return Path(self.campaign.input_path).name

    @property
    def total_rows(self) -> int:
        return sum(self.outcomes.values())

    @property
    def needing_attention(self) -> int:
        """Ambiguous, failed, refused at submit, or sent and then REJECTED/FAILED by IO."""
        return sum(self.outcomes.get(s, 0) for s in ATTENTION_STATES) + sum(
            self.io_statuses.get(s, 0) for s in ATTENTION_IO_STATUSES
        )

    @property
    def duration_s(self) -> float:
        return sum(run.duration_s for run in self.runs)

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def throttled(self) -> int:
        return sum(run.throttled for run in self.runs)

    @property
    def mean_rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def last_run(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    def to_dict(self) -> dict[str, object]:
        """The JSON summary; times are ISO-8601 UTC, durations seconds, rates requests/s."""
        last = self.last_run
        state = self.completeness
        settle = self.settle
        return {
            "schema": SUMMARY_SCHEMA,
            "generated_at": _iso(self.generated_at),
            "ledger": str(self.ledger_path),
            "campaign": {
                "id": self.campaign.campaign_id,
                "input_file": self.input_name,
                "input_sha256": self.campaign.input_sha256,
                "template_sha256": self.campaign.template_sha256,
                "created_at": _iso(self.campaign.created_at),
                "completed_at": _iso(self.campaign.completed_at),
                "complete": state.complete,
            },
            "open": {
                "rows": state.open_rows,
                "unfinished": state.unfinished,
                "ambiguous": state.ambiguous,
                "unchecked": state.unchecked,
                "recording_cut_short": state.unrecorded,
                "scheduled_later": state.scheduled,
                "next_due": _iso(state.next_due),
                "commands": None if settle is None else {
                    "resume": settle.resume,
                    "resend_ambiguous": settle.resend_ambiguous,
                    "status": settle.status,
                },
            },
            "remote_content": None if self.opens is None else {
                "messages": self.opens.messages, "opened": self.opens.opened},
            "rows": {
                "total": self.total_rows,
                "needing_attention": self.needing_attention,
                "to_reach": self.to_reach,
                "by_outcome": {state.value: n for state, n in self.outcomes.items()},
            },
            "io_status": dict(self.io_statuses),
            "runs": {
                "count": len(self.runs),
                "duration_s": round(self.duration_s, 3),
                "requests": self.requests,
                "throttled": self.throttled,
                "mean_rate_per_s": round(self.mean_rate, 3),
                "last": None if last is None else {
                    "run_id": last.run_id,
                    "started_at": _iso(last.started_at),
                    "finished_at": _iso(last.finished_at),
                    "duration_s": round(last.duration_s, 3),
                    "requests": last.requests,
                    "throttled": last.throttled,
                    "mean_rate_per_s": round(last.mean_rate, 3),
                    "rate": last.rate,
                    "exit_code": last.exit_code,
                    "stopped_reason": last.stopped_reason,
                    "operator": last.operator,
                    "host": last.host,
                    "version": last.version,
                    "command": last.command,
                    "settings": json.loads(last.settings) if last.settings else None,
                },
            },
            "status_checks": {
                "passes": self.status_passes.passes,
                "requests": self.status_passes.requests,
                "throttled": self.status_passes.throttled,
                "last_at": _iso(self.status_passes.last_at),
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"


def build_summary(ledger: Ledger, campaign_id: int, *, now: float | None = None,
                  to_reach: int = 0, opens: OpenTally | None = None,
                  settle: SettleCommands | None = None) -> CampaignSummary:
    """Read everything the summary needs from the ledger (one campaign); the report adds
    what it learned elsewhere (rows to reach, opens, the settling commands)."""
    counted = ledger.statuses.counts(campaign_id)
    moment = time.time() if now is None else now
    later = ledger.rows.scheduled(campaign_id, now=moment)
    io_statuses = {status: counted.pop(status, 0) for status in IO_STATUSES}
    io_statuses.update(counted)  # a status IO added after this table was written
    return CampaignSummary(
        ledger_path=ledger.path,
        campaign=ledger.campaigns.get(campaign_id),
        generated_at=moment,
        outcomes=ledger.rows.counts(campaign_id),
        io_statuses=io_statuses,
        runs=tuple(ledger.runs.of_campaign(campaign_id)),
        status_passes=ledger.statuses.pass_totals(campaign_id),
        to_reach=to_reach,
        opens=opens,
        settle=settle,
        scheduled=later.count,
        next_due=later.next_due,
    )


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z"
    )
