"""Whether a ``POST /messages`` may be stored: IO's CreateMessage checks, in IO's order.

The order matters to a sender because a request breaking two rules gets only the first error.
From io-messages ``CreateMessage``: body decoding (400) and the path fiscal code (400) in the
middlewares; then the permission middlewares for payload features (EU Covid cert, payee,
Premium, third-party data: 403); then the handler: fiscal code in path *xor* body (400),
remote-content configuration (403/404/403), attachments need ADVANCED (403), sandbox
recipients (403), payment amount cap (400).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dispatcher.simulator.config import KeyConfig
from dispatcher.simulator.responses import forbidden, problem, recipient_forbidden
from dispatcher.simulator.state import SimulatorState
from dispatcher.simulator.validation import (
    FISCAL_CODE,
    FISCAL_CODE_TYPE,
    NewMessage,
    decode_new_message,
)

_NO_PERMISSION = "You do not have enough permissions to send "


def check_submission(
    sim: SimulatorState, key: KeyConfig, raw: Any, path_code: str | None
) -> tuple[str, NewMessage] | Response:
    """The recipient and the decoded message, or the error response IO would give."""
    message, errors = decode_new_message(raw)
    if message is None:
        return problem(400, "Invalid message structure", "\n".join(errors))
    if path_code is not None and not FISCAL_CODE.fullmatch(path_code):
        return problem(400, f"Invalid {FISCAL_CODE_TYPE}",
                       f'value ["{path_code}"] at [root] is not a valid [{FISCAL_CODE_TYPE}]')
    refused = _missing_permission(key, message)
    if refused is not None:
        return refused
    if path_code is not None and message.fiscal_code is not None:
        return problem(400, "Bad parameters", "The fiscalcode parameter must be specified in "
                       "the path or in the payload but not in both")
    fiscal_code = path_code or message.fiscal_code
    if fiscal_code is None:
        return problem(400, "Bad parameters",
                       "The fiscalcode parameter must be specified in the path or in the payload")
    refused = _remote_content_refusal(sim, key, message)
    if refused is not None:
        return refused
    if key.sandbox and fiscal_code not in key.authorized_recipients:
        return recipient_forbidden()
    payment = message.payment_data
    if payment is not None and payment["amount"] > key.max_allowed_payment_amount:
        return problem(
            400,
            "Error while sending payment metadata",
            f"The requested amount ({payment['amount']} cents) exceeds the maximum allowed "
            f"for this service ({key.max_allowed_payment_amount} cents)",
        )
    return fiscal_code, message


def _missing_permission(key: KeyConfig, message: NewMessage) -> Response | None:
    """IO's ``AzureAllowBodyPayloadMiddleware`` list, in its order."""
    content = message.content
    if "eu_covid_cert" in content:  # legacy group no simulated key has
        return forbidden(_NO_PERMISSION + "an EUCovidCert message")
    payment = message.payment_data
    if payment is not None and "payee" in payment and not key.payee:
        return forbidden(_NO_PERMISSION + "a payment message with payee")
    advanced = message.feature_level_type == "ADVANCED"
    if advanced and not key.premium_write:
        return forbidden(_NO_PERMISSION + "a Premium message")
    if message.third_party_data is not None and not advanced and not key.third_party:
        return forbidden(_NO_PERMISSION + "a third party message")
    return None


def _remote_content_refusal(
    sim: SimulatorState, key: KeyConfig, message: NewMessage
) -> Response | None:
    """Remote content needs a configuration the caller's ente owns; attachments need ADVANCED.

    IO compares the configuration's owner with the APIM *user* (the ente here), so any
    service of the owning ente may use it.
    """
    third_party = message.third_party_data
    if third_party is None:
        return None
    configuration_id = third_party.get("configuration_id")
    if not configuration_id:
        return problem(403, "No configuration id for remote content",
                       "You did not send any configuration id for your remote content in "
                       "third_party_data")
    owner = sim.rc_configurations.owner_of(configuration_id)  # seeded or created via API
    if owner is None:
        return problem(404, "Remote Content Configuration NOT FOUND",
                       "Cannot find any Remote Content Configuration with the given id")
    if owner != key.ente:
        return problem(403, "Not your configuration",
                       "You're not the owner of the configuration related to the given "
                       "configuration_id")
    if third_party["has_attachments"] and message.feature_level_type != "ADVANCED":
        return problem(403, "Attachments call forbidden",
                       "You are not allowed to send messages with attachmens with STANDARD "
                       "messages, please use ADVANCED")
    return None
