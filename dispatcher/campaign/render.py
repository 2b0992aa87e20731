"""From one row's derived values to the exact ``NewMessage`` body IO expects.

The body is built field by field (never by copying a row), so nothing but the documented
keys reaches IO. ``content_hash`` is the SHA-256 of the canonical JSON of the body *without*
``fiscal_code`` (orjson, keys sorted, no spaces, UTF-8): the ledger compares it across runs
to refuse sending the same content to the same person twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

# payload key inside third_party_data -> derived column (see rules.Plan)
_THIRD_PARTY = (
    ("configuration_id", "__tp_cfg"),
    ("has_remote_content", "__tp_remote"),
    ("has_attachments", "__tp_attach"),
    ("has_precondition", "__tp_pre"),
    ("summary", "__tp_summary"),
    ("original_sender", "__tp_sender"),
    ("original_receipt_date", "__tp_receipt"),
)


def body_builder(columns: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function from one record (values in ``columns`` order) to the body.

    Positions are looked up once per campaign, not once per row: this runs a million times.
    """
    index = {name: i for i, name in enumerate(columns)}
    subject, markdown = index["__subject"], index["__markdown"]
    due = index.get("__due")
    amount, notice = index.get("__amount"), index.get("__notice")
    invalid_after, payee = index.get("__b_invalid_after_due_date"), index.get("__payee")
    third_party_id = index.get("__tp_id")
    third_party = [(key, index[column]) for key, column in _THIRD_PARTY if column in index]
    secure = index.get("__b_require_secure_channels")
    level, ttl = index.get("__c_feature_level_type"), index.get("__ttl")

    def build(record: Sequence[Any]) -> dict[str, Any]:
        content: dict[str, Any] = {"subject": record[subject], "markdown": record[markdown]}
        if due is not None and record[due] is not None:
            content["due_date"] = record[due]
        if amount is not None and record[amount] is not None:
            payment: dict[str, Any] = {"amount": record[amount],
                                       "notice_number": record[notice]}  # type: ignore[index]
            if invalid_after is not None and record[invalid_after] is not None:
                payment["invalid_after_due_date"] = record[invalid_after]
            if payee is not None and record[payee] is not None:
                payment["payee"] = {"fiscal_code": record[payee]}
            content["payment_data"] = payment
        if third_party_id is not None and record[third_party_id] is not None:
            remote: dict[str, Any] = {"id": record[third_party_id]}
            for key, position in third_party:
                if record[position] is not None:
                    remote[key] = record[position]
            content["third_party_data"] = remote
        if secure is not None and record[secure] is not None:
            content["require_secure_channels"] = record[secure]
        body: dict[str, Any] = {"content": content}
        if level is not None and record[level] is not None:
            body["feature_level_type"] = record[level]
        if ttl is not None and record[ttl] is not None:
            body["time_to_live"] = record[ttl]
        return body

    return build


def message_body(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``NewMessage`` body for a valid row's derived values, without ``fiscal_code``."""
    return body_builder(tuple(values))(tuple(values.values()))


def content_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``body`` (which must not hold ``fiscal_code``)."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def new_message(fiscal_code: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The full request body of ``POST /messages``: the fiscal code goes in the body."""
    return {"fiscal_code": fiscal_code, **body}
