"""``dispatcher test``: send a few real messages of a campaign to test recipients first.

The office sees the message exactly as citizens will (subject, text, amount, due date,
payment button) before the real send. Each chosen row is rendered from the campaign file and
template, and only the recipient changes: IO's test fiscal code ``AAAAAA00A00A000A`` delivers
to the e-mail of the person who created the service; a colleague's own fiscal code (listed
among the service's authorised recipients while it is in test) delivers in the app.

Test sends are recorded in the ledger with the file and template they came from, never as
rows of the campaign, so ``run --require-test`` can insist on a test of *this* content.
No profile check is made: the test recipient is not the campaign's citizen, and the test
fiscal code has no IO profile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog

from dispatcher.campaign import Campaign, CampaignRow
from dispatcher.campaign.fiscal_code import normalise, verdict
from dispatcher.ioapi import Client, ErrorRateExceeded
from dispatcher.ledger import Ledger, RunLock, TestSend
from dispatcher.pacing import Pacer
from dispatcher.privacy import mask_fiscal_code
from dispatcher.settings import Settings
from dispatcher.vocabulary import SUBMIT_OUTCOMES, InputVerdict, RowState

log = structlog.get_logger("dispatcher.testsend")

IO_TEST_FISCAL_CODE = "AAAAAA00A00A000A"
DEFAULT_TEST_ROWS = 3

class TestSendError(ValueError):
    """The test cannot be sent as asked (bad recipient, row not sendable); nothing was sent."""

    __test__ = False


def parse_recipients(text: str) -> list[str]:
    """``CF[,CF...]`` → normalised fiscal codes; IO's test code or valid codes only."""
    recipients: list[str] = []
    for raw in text.split(","):
        code = normalise(raw)
        if code is None:
            continue
        if code != IO_TEST_FISCAL_CODE and verdict(code) is not None:
            raise TestSendError(
                f"--to: {mask_fiscal_code(code)} is not a valid fiscal code "
                f"(use {IO_TEST_FISCAL_CODE}, IO's test citizen, or a colleague's code)"
            )
        if code not in recipients:
            recipients.append(code)
    if not recipients:
        raise TestSendError("--to needs at least one fiscal code")
    return recipients


def pick_rows(
    campaign: Campaign, *, rows: Sequence[int] | None = None, count: int = DEFAULT_TEST_ROWS
) -> list[CampaignRow]:
    """The chosen row numbers (each must be valid), or the first ``count`` valid rows."""
    wanted = set(rows or ())
    picked: list[CampaignRow] = []
    for row in campaign.rows():
        if wanted:
            if row.row not in wanted:
                continue
            if row.state is not InputVerdict.VALID:
                problems = "; ".join(p.message for p in row.problems if p.is_error)
                raise TestSendError(
                    f"{campaign.path}: row {row.row} is {row.state}"
                    + (f" ({problems})" if problems else "")
                    + "; choose a valid row"
                )
            picked.append(row)
        elif row.state is InputVerdict.VALID:
            picked.append(row)
            if len(picked) >= count:
                break
    missing = wanted - {r.row for r in picked}
    if missing:
        raise TestSendError(f"{campaign.path}: no row {', '.join(map(str, sorted(missing)))}")
    if not picked:
        raise TestSendError(f"{campaign.path}: no valid row to test")
    return picked


@dataclass(frozen=True)
class TestSendSummary:
    __test__ = False

    ledger_path: Path
    sends: list[TestSend]
    fatal: str | None = None

    @property
    def all_sent(self) -> bool:
        return not self.fatal and all(s.outcome == RowState.SENT for s in self.sends)


def send_tests(
    campaign: Campaign,
    *,
    settings: Settings,
    ledger_path: Path,
    recipients: Sequence[str],
    rows: Sequence[CampaignRow],
    on_send: Callable[[TestSend], None] | None = None,
) -> TestSendSummary:
    """Send each chosen row to each test recipient, one at a time, and record every send."""
    api_key = settings.require_api_key()
    sends: list[TestSend] = []
    fatal: list[str] = []

    async def go() -> None:
        async with Client.from_settings(settings, Pacer(settings.rate), api_key=api_key) as client:
            for row in rows:
                for recipient in recipients:
                    assert row.payload is not None
                    payload = {**row.payload, "fiscal_code": recipient}
                    try:
                        answer = await client.submit_message(payload)
                    except ErrorRateExceeded as exc:
                        fatal.append(str(exc))
                        return
                    if answer.is_auth_error:
                        fatal.append(f"IO refused the API key: {answer.detail}")
                        return
                    send = TestSend(
                        source_row=row.row, recipient=recipient, content_hash=row.content_hash,
                        outcome=SUBMIT_OUTCOMES[answer.kind].value, message_id=answer.message_id,
                        http_status=answer.http_status, detail=answer.detail, at=time.time(),
                    )
                    sends.append(send)
                    log.info("test_sent", row=row.row, recipient=mask_fiscal_code(recipient),
                             outcome=send.outcome, message_id=send.message_id,
                             detail=send.detail)
                    if on_send:
                        on_send(send)

    with RunLock(ledger_path), Ledger.open(ledger_path) as ledger:
        try:
            anyio.run(go, backend="asyncio")
        finally:  # what left is recorded even if the run was interrupted
            ledger.record_test_sends(
                input_path=str(campaign.path), input_sha256=campaign.source_sha256,
                template_sha256=campaign.template_sha256, sends=sends,
            )
    return TestSendSummary(Path(ledger_path), sends, fatal[0] if fatal else None)
