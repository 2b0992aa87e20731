"""When an operation stops, and why: one policy for every command that talks to IO.

The rules, the same for ``run``, ``status``, ``test``, ``run --dry-run`` and ``feed sync``:

* IO refuses the key (401): stop at once, *fatal* (exit 4): every later call would fail too.
* The error-rate breaker opens (``ErrorRateExceeded``): stop taking work (exit 75), rerun later.
* The first answers of a stage (profile checks, submits) are all the same refusal
  (:class:`FirstAnswers`): a mistake that hits every row. Stop at once, *fatal* (exit 4),
  with a diagnosis; untried rows stay pending, refused ones keep their outcome.
* SIGINT/SIGTERM, a stop file or a deadline: stop taking work; calls in flight get
  ``grace_seconds`` to finish, then they are cancelled; a second signal cancels at once.

Stopping "taking work" is cooperative: workers check :attr:`StopPolicy.is_set` before each
item. :meth:`StopPolicy.ask` wraps one call to IO and applies the first two rules, so no
worker writes them out again.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import anyio
import structlog

from dispatcher.ioapi import Answer, ErrorRateExceeded
from dispatcher.ioapi.models import NOT_IO
from dispatcher.vocabulary import ExitCode

__all__ = ["FirstAnswers", "StopOptions", "StopPolicy", "stop_exit_code"]

_PAYMENT_CAP = re.compile(r"maximum allowed for this service \((\d+) cents\)")
_DIGITS = re.compile(r"\d+")

SYSTEMATIC_AFTER = 5
"""Same refusals in a row, at the start of a stage, that make a configuration error."""

log = structlog.get_logger("dispatcher.stopping")

A = TypeVar("A", bound=Answer)


@dataclass(frozen=True)
class StopOptions:
    """The operator's stop sources and how long calls in flight may take after a stop."""

    grace_seconds: float = 30.0
    deadline: datetime | None = None
    stop_file: Path | None = None
    handle_signals: bool = True  # off where signals cannot be received (a non-main thread)


@dataclass
class StopPolicy:
    """Why and when an operation stopped taking work; shared by all of its tasks."""

    options: StopOptions = field(default_factory=StopOptions)
    event: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None
    fatal: str | None = None
    _signals: int = 0

    def stop(self, reason: str, *, fatal: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            log.warning("stopping", reason=reason)
        if fatal and self.fatal is None:
            self.fatal = reason
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()

    async def ask(self, call: Awaitable[A]) -> A | None:
        """Await one IO call; None when its answer (or the breaker) stops the operation.

        A 401 means IO refused the key and stored nothing; the breaker trips before an
        attempt leaves. Either way the caller's item was not done: it stays to be redone.
        """
        try:
            answer = await call
        except ErrorRateExceeded as exc:
            self.stop(str(exc))
            return None
        if answer.is_auth_error:
            self.stop(f"IO refused the API key: {answer.detail}", fatal=True)
            return None
        return answer

    async def watch(self, work: anyio.CancelScope) -> None:
        """Signals, stop file and deadline; after the grace period, cancel ``work``.

        Runs until cancelled by its caller once the work is done.
        """
        async with anyio.create_task_group() as tg:
            if self.options.handle_signals:
                tg.start_soon(self._watch_signals, work)
            tg.start_soon(self._watch_file_and_deadline)
            await self.event.wait()
            with anyio.move_on_after(self.options.grace_seconds):
                await anyio.sleep_forever()
            log.warning("grace_period_over", seconds=self.options.grace_seconds)
            work.cancel()
            tg.cancel_scope.cancel()

    async def _watch_signals(self, work: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                self._signals += 1
                if self._signals > 1:
                    log.warning("second_signal_cancelling", signal=name)
                    work.cancel()
                    return
                self.stop(f"received {name}")

    async def _watch_file_and_deadline(self) -> None:
        deadline = self.options.deadline
        stop_file = self.options.stop_file
        while not self.is_set:
            if stop_file is not None and stop_file.exists():
                self.stop(f"stop file {stop_file} found")
            elif deadline is not None and time.time() >= deadline.timestamp():
                self.stop(f"deadline {deadline:%Y-%m-%d %H:%M} reached")
            await anyio.sleep(0.5)


@dataclass
class FirstAnswers:
    """Whether one stage's first answers are all the same refusal: a configuration mistake.

    It only watches the start of a run: once one good answer came, or two different
    refusals, the stage is ``proven`` and the rest of the run is the citizens' business.
    """

    stage: str  # "profile check", "message submit"
    limit: int = SYSTEMATIC_AFTER
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    _refusals: list[tuple[int | None, str]] = field(default_factory=list)
    _proven: bool = False

    @property
    def learning(self) -> bool:
        return not self._proven

    def proven(self) -> None:
        self._proven = True

    def refused(self, status: int | None, title: str | None, detail: str | None) -> str | None:
        """Note one refusal; the diagnosis when it makes ``limit`` identical ones in a row."""
        cap = _PAYMENT_CAP.search(detail or "")
        if cap is not None and int(cap.group(1)) > 0:
            # a real cap: the rows above it are refused, the others go; the citizens' amounts
            self._proven = True
            return None
        key = (status, title or _DIGITS.sub("#", (detail or "")[:80]))
        self._refusals.append(key)
        if len(set(self._refusals)) > 1:
            self._proven = True  # refusals that differ are about the citizens, not the setup
            return None
        if len(self._refusals) < self.limit:
            return None
        self._proven = True
        return systematic_diagnosis(self.stage, len(self._refusals), status, title, detail)


def systematic_diagnosis(stage: str, count: int, status: int | None, title: str | None,
                         detail: str | None) -> str:
    """What the same refusal of every first request probably means, and what to do."""
    said = detail or title or "no detail"  # an answer's detail already starts with its title
    if status == 404 and stage == "profile check":
        cause = ("the base URL probably does not point at IO's API: it must end in /api/v1 "
                 "(e.g. https://api.io.pagopa.it/api/v1); run `dispatcher check`")
    elif status == 403:
        cause = ("the service lacks a permission this campaign needs (payments/payee, "
                 "Premium ADVANCED messages, remote content) or the key is another service's: "
                 "ask IO's back office, or change the campaign")
    elif said.startswith(NOT_IO):
        cause = ("something other than IO answers at this base URL (a proxy, a portal page): "
                 "check IO_BASE_URL and the network path; nothing counts as sent")
    elif status == 400:
        cause = ("IO refuses the message as built, for every row: e.g. a payment amount over "
                 "the service's cap (a cap of 0 refuses every payment notice), or a field the "
                 "service may not use")
    else:
        cause = "this is a configuration problem, not the citizens'"
    return (f"the first {count} {stage}s were all refused the same way (HTTP {status}, "
            f"{said}): {cause}. Nothing more was sent; every row not tried yet is still "
            f"pending. Fix the cause, then run again (add --retry-failed to resend the "
            f"{count} refused rows)")


def stop_exit_code(fatal: str | None, stopped: str | None) -> ExitCode | None:
    """The exit code a stop imposes on any operation: 4 for a refused key, 75 otherwise.

    None when the operation was not stopped: its own result decides.
    """
    if fatal:
        return ExitCode.CONFIG_ERROR
    if stopped:
        return ExitCode.STOPPED
    return None
