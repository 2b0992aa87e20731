"""Before the first submit of a remote-content campaign: ask IO about its configurations.

IO refuses every submit naming an unknown configuration (404) or another ente's (403), and a
configuration without a production environment or base URL leaves every citizen with a
message that cannot open. One GET per distinct ``configuration_id`` (with the service's
manage key) tells before anyone is touched. Without a manage key nothing can be asked: the
run goes on and says what it could not check.

Test sends use the same reading to warn when a tester is not among the configuration's
``test_users`` (the tester is then served from the production environment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import structlog

from dispatcher.operations.errors import NOTHING_SENT, OperationRefused
from dispatcher.operations.rc_config import CheckVerdict, ConfigurationCheck, check_configuration
from dispatcher.privacy import mask_fiscal_code
from dispatcher.settings import Settings
from dispatcher.vocabulary import ExitCode

__all__ = ["ConfigurationGate", "check_configurations", "testers_outside"]

log = structlog.get_logger("dispatcher.rc_config")


@dataclass(frozen=True)
class ConfigurationGate:
    """The checks of a campaign's configurations; the run refuses when one blocks it."""

    checks: tuple[ConfigurationCheck, ...]

    @property
    def not_checked(self) -> bool:
        return any(c.verdict is not CheckVerdict.OK for c in self.checks)


def check_configurations(settings: Settings, configuration_ids: Sequence[str], *,
                         transport: httpx.AsyncBaseTransport | None = None,
                         ) -> ConfigurationGate:
    """Check each configuration; raise :class:`OperationRefused` (exit 4) when IO would
    refuse every submit or no citizen could open the messages."""
    checks = tuple(check_configuration(settings, cid, transport=transport)
                   for cid in configuration_ids)
    for check in checks:
        if check.blocks_run:
            raise OperationRefused(
                None, ExitCode.CONFIG_ERROR, text=NOTHING_SENT,
                params={"message": f"remote-content configuration {check.configuration_id}: "
                                   f"{check.message}"})
        if check.verdict is CheckVerdict.OK:
            log.info("configuration_checked", configuration_id=check.configuration_id,
                     checked=list(check.checked))
        else:
            log.warning("configuration_not_checked", configuration_id=check.configuration_id,
                        reason=check.message, not_checked=list(check.not_checked))
    return ConfigurationGate(checks)


def testers_outside(check: ConfigurationCheck, testers: Sequence[str]) -> list[str]:
    """The testers (masked) the configuration's ``test_users`` do not list; none when the
    configuration could not be read."""
    configuration = check.configuration
    if configuration is None:
        return []
    environment = configuration.test_environment
    listed = set(environment.test_users or ()) if environment is not None else set()
    return [mask_fiscal_code(t) for t in testers if t not in listed]
