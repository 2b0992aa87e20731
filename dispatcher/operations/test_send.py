"""``dispatcher test``: send a few real messages of a campaign to test recipients first.

The office sees the message exactly as citizens will (subject, text, amount, due date,
payment button) before the real send. Each chosen row's message is re-addressed, nothing
else changes: IO's test fiscal code ``AAAAAA00A00A000A`` delivers to the e-mail of the
person who created the service; a colleague's own fiscal code (listed among the service's
authorised recipients while it is in test) delivers in the app.

Test sends are recorded in the ledger with the file and template they came from, never as
rows of the campaign, so ``run --require-test`` can insist on a test of *this* content. Like
a campaign send, each one is recorded *before* it leaves (``sending``) and decided after; a
test send a killed process left ``sending`` becomes ``ambiguous`` on the next use of the
ledger. No profile check is made: the test fiscal code has no IO profile.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog
from ulid import ULID

from dispatcher.campaign import Campaign, CampaignRow
from dispatcher.campaign.fiscal_code import normalise, verdict
from dispatcher.content.store import ContentStore, ContentStoreError
from dispatcher.ledger import Ledger, TestSend
from dispatcher.message import OutgoingMessage
from dispatcher.operations.content import content_store_path
from dispatcher.operations.content_registration import register_for_tester
from dispatcher.operations.errors import NOTHING_SENT, OperationRefused, refusals
from dispatcher.operations.preflight import announce, preflight
from dispatcher.operations.remote_checks import check_configurations, testers_outside
from dispatcher.operations.session import Live, Session
from dispatcher.privacy import IO_TEST_CITIZEN, mask_fiscal_code
from dispatcher.settings import Settings
from dispatcher.stopping import stop_exit_code
from dispatcher.vocabulary import SUBMIT_OUTCOMES, ExitCode, InputVerdict, RowState

__all__ = [
    "DEFAULT_TEST_ROWS",
    "IO_TEST_FISCAL_CODE",
    "TestSendError",
    "TestSendResult",
    "parse_recipients",
    "pick_rows",
    "send_tests",
]

log = structlog.get_logger("dispatcher.testsend")

IO_TEST_FISCAL_CODE = IO_TEST_CITIZEN
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
class TestSendResult:
    __test__ = False

    ledger_path: Path
    sends: list[TestSend]
    recovered: int = 0  # test sends a killed process left in flight: now ambiguous
    fatal: str | None = None
    stopped: str | None = None

    @property
    def all_sent(self) -> bool:
        return not self.fatal and not self.stopped and all(
            s.outcome == RowState.SENT for s in self.sends)

    @property
    def exit_code(self) -> ExitCode:
        stop = stop_exit_code(self.fatal, self.stopped)
        if stop is not None:
            return stop
        return ExitCode.OK if self.all_sent else ExitCode.INCOMPLETE


@contextlib.contextmanager
def _test_content_store(settings: Settings, campaign: Campaign,
                        override: Path | None) -> Iterator[ContentStore | None]:
    """The service's content store, when the campaign's remote content is ours to serve."""
    if not campaign.has_remote_content:
        yield None
        return
    try:
        store = ContentStore.open(content_store_path(settings, override))
    except ContentStoreError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR, text=NOTHING_SENT) from None
    with store:
        yield store


def send_tests(
    campaign: Campaign,
    *,
    settings: Settings,
    ledger_path: Path,
    recipients: Sequence[str],
    rows: Sequence[CampaignRow],
    on_send: Callable[[TestSend], None] | None = None,
    content_store: Path | None = None,
) -> TestSendResult:
    """Send each chosen row to each test recipient, one at a time, recording each first."""
    with refusals():
        announce(preflight(settings))  # URL, key, service: before the first tester
        gate = check_configurations(settings, campaign.configuration_ids())
    for check in gate.checks:
        for tester in testers_outside(check, recipients):
            log.warning("tester_not_a_test_user", tester=tester,
                        configuration_id=check.configuration_id,
                        advice="add the tester to the configuration's test_users "
                        "(dispatcher rc-config update) to serve them the test environment")
    with (refusals(), Session.open(settings, ledger_path) as session,
          _test_content_store(settings, campaign, content_store) as store):
        ledger = session.ledger
        recovered = ledger.test_sends.recover()
        sends: list[TestSend] = []

        async def work(live: Live) -> None:
            for row in rows:
                for recipient in recipients:
                    if live.stops.is_set:
                        return
                    send = await _send_one(live, ledger, campaign, row, recipient, store)
                    sends.append(send)
                    if on_send:
                        on_send(send)

        ran = session.run(work)
        return TestSendResult(Path(ledger_path), sends, recovered, ran.fatal,
                              None if ran.fatal else ran.stopped)


def _register_test_content(store: ContentStore | None, row: CampaignRow,
                           message: OutgoingMessage) -> None:
    """The row's remote content under the test message's own id, for the tester alone."""
    remote, own = row.remote, message.content.third_party_data
    assert own is not None
    if remote is None or store is None:
        log.warning("test_content_not_served", row=row.row, third_party_id=own.id,
                    reason="the campaign gives no remote content of ours: the ente's own "
                    "server does not know this test id, so the tester sees an error, "
                    "never a citizen's content")
        return
    register_for_tester(store, remote, message.fiscal_code, own.id, at=datetime.now(UTC))


async def _send_one(live: Live, ledger: Ledger, campaign: Campaign, row: CampaignRow,
                    recipient: str, store: ContentStore | None = None) -> TestSend:
    """Intent, send, outcome: the same discipline as a campaign row."""
    assert row.message is not None
    message = row.message.addressed_to(recipient)
    if message.content.third_party_data is not None:
        # never the citizen's id: the tester's app would fetch that citizen's content
        message = message.with_third_party_id(f"test-{ULID()}")
        await anyio.to_thread.run_sync(_register_test_content, store, row, message)
    test_id = await live.writer.call(functools.partial(
        ledger.test_sends.begin, input_path=str(campaign.path),
        input_sha256=campaign.source_sha256, template_sha256=campaign.template_sha256,
        source_row=row.row, recipient=recipient, content_hash=row.message.content_hash))
    answer = await live.stops.ask(live.client.submit_message(message))
    if answer is None:  # the key refused (nothing stored) or the breaker (nothing left)
        outcome, message_id, status = RowState.FAILED, None, None
        detail = f"not sent: {live.stops.reason}"
    else:
        outcome, message_id = SUBMIT_OUTCOMES[answer.kind], answer.message_id
        status, detail = answer.http_status, answer.detail
    await live.writer.call(functools.partial(
        ledger.test_sends.finish, test_id, outcome=outcome, message_id=message_id,
        http_status=status, detail=detail))
    log.info("test_sent", row=row.row, recipient=mask_fiscal_code(recipient),
             outcome=outcome.value, message_id=message_id, detail=detail)
    return TestSend(source_row=row.row, recipient=recipient, content_hash=message.content_hash,
                    outcome=outcome.value, message_id=message_id, http_status=status,
                    detail=detail, test_id=test_id)
