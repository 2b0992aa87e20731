"""The outgoing message: one typed value from the campaign room to the ledger and the client.

The campaign room builds an :class:`OutgoingMessage` per valid row, the ledger keeps what it
needs of it (:meth:`~OutgoingMessage.stored`, the canonical JSON, and the content hash), the
client sends :meth:`~OutgoingMessage.to_json`, a test send re-addresses it
(:meth:`~OutgoingMessage.addressed_to`), and a resume rebuilds it from the ledger
(:meth:`~OutgoingMessage.from_stored`) without reading the campaign file again.

Why typed and not a dict: only IO's documented ``NewMessage`` fields can exist, so nothing but
them reaches IO; the remote-content fields have names a reader can find; and re-addressing a
message cannot forget or duplicate the recipient.

The content hash is the SHA-256 of the canonical JSON (orjson, keys sorted, no spaces, UTF-8)
of the body *without* ``fiscal_code``: the same content sent to two people has one hash, and
the ledger compares it across campaigns to refuse sending the same content to a person twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import orjson

__all__ = [
    "Field",
    "MessageBuilder",
    "MessageContent",
    "OutgoingMessage",
    "PaymentData",
    "ThirdPartyData",
]


class Field(StrEnum):
    """Every field a campaign can set, named by its path in IO's ``NewMessage`` body."""

    SUBJECT = "content.subject"
    MARKDOWN = "content.markdown"
    DUE_DATE = "content.due_date"
    REQUIRE_SECURE_CHANNELS = "content.require_secure_channels"
    AMOUNT = "content.payment_data.amount"
    NOTICE_NUMBER = "content.payment_data.notice_number"
    INVALID_AFTER_DUE_DATE = "content.payment_data.invalid_after_due_date"
    PAYEE_FISCAL_CODE = "content.payment_data.payee.fiscal_code"
    THIRD_PARTY_ID = "content.third_party_data.id"
    CONFIGURATION_ID = "content.third_party_data.configuration_id"
    HAS_REMOTE_CONTENT = "content.third_party_data.has_remote_content"
    HAS_ATTACHMENTS = "content.third_party_data.has_attachments"
    HAS_PRECONDITION = "content.third_party_data.has_precondition"
    SUMMARY = "content.third_party_data.summary"
    ORIGINAL_SENDER = "content.third_party_data.original_sender"
    ORIGINAL_RECEIPT_DATE = "content.third_party_data.original_receipt_date"
    FEATURE_LEVEL_TYPE = "feature_level_type"
    TIME_TO_LIVE = "time_to_live"


@dataclass(frozen=True, slots=True)
class PaymentData:
    """A pagoPA notice the citizen can pay from the message."""

    amount: int  # euro cents
    notice_number: str  # 18 digits, leading zeros kept
    invalid_after_due_date: bool | None = None
    payee_fiscal_code: str | None = None  # the creditor's VAT number, when not the service's


@dataclass(frozen=True, slots=True)
class ThirdPartyData:
    """Remote content: IO fetches the real text and attachments from the ente by ``id``."""

    id: str
    configuration_id: str | None = None
    has_remote_content: bool | None = None
    has_attachments: bool | None = None
    has_precondition: str | None = None  # ALWAYS, ONCE or NEVER
    summary: str | None = None
    original_sender: str | None = None
    original_receipt_date: str | None = None  # UTC, ISO 8601


@dataclass(frozen=True, slots=True)
class MessageContent:
    subject: str
    markdown: str
    due_date: str | None = None  # UTC, ISO 8601 with Z
    payment_data: PaymentData | None = None
    third_party_data: ThirdPartyData | None = None
    require_secure_channels: bool | None = None


_THIRD_PARTY_KEYS = ("configuration_id", "has_remote_content", "has_attachments",
                     "has_precondition", "summary", "original_sender", "original_receipt_date")


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One ``POST /messages`` request: its recipient and the body IO stores."""

    fiscal_code: str
    content: MessageContent
    feature_level_type: str | None = None  # STANDARD or ADVANCED (Premium)
    time_to_live: int | None = None  # seconds
    _stored: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canonical = orjson.dumps(self._content_body(), option=orjson.OPT_SORT_KEYS)
        object.__setattr__(self, "_stored", canonical)

    @property
    def content_hash(self) -> str:
        """SHA-256 hex of the canonical body without the recipient."""
        return hashlib.sha256(self._stored).hexdigest()

    def stored(self) -> bytes:
        """What the ledger keeps: the canonical JSON body without ``fiscal_code``."""
        return self._stored

    def body(self) -> dict[str, Any]:
        """The JSON body of ``POST /messages``, recipient first, only the fields that are set."""
        return {"fiscal_code": self.fiscal_code, **self._content_body()}

    def to_json(self) -> bytes:
        return orjson.dumps(self.body())

    def addressed_to(self, fiscal_code: str) -> OutgoingMessage:
        """The same message for another recipient (a test send): content and hash unchanged."""
        return replace(self, fiscal_code=fiscal_code)

    def with_third_party_id(self, third_party_id: str) -> OutgoingMessage:
        """The same message pointing at another remote-content record.

        A test send needs this: the tester's message must never carry the citizen's id, or
        the tester's app would fetch that citizen's content.
        """
        remote = self.content.third_party_data
        if remote is None:
            return self
        content = replace(self.content, third_party_data=replace(remote, id=third_party_id))
        return replace(self, content=content)

    @classmethod
    def from_stored(cls, fiscal_code: str, stored: bytes) -> OutgoingMessage:
        """Rebuild a message from :meth:`stored` bytes (a resume reads them from the ledger)."""
        return cls.from_body(fiscal_code, orjson.loads(stored))

    @classmethod
    def from_body(cls, fiscal_code: str, body: Mapping[str, Any]) -> OutgoingMessage:
        content = body["content"]
        payment = content.get("payment_data")
        remote = content.get("third_party_data")
        return cls(
            fiscal_code=fiscal_code,
            content=MessageContent(
                subject=content["subject"],
                markdown=content["markdown"],
                due_date=content.get("due_date"),
                payment_data=PaymentData(
                    payment["amount"], payment["notice_number"],
                    payment.get("invalid_after_due_date"),
                    (payment.get("payee") or {}).get("fiscal_code"),
                ) if payment else None,
                third_party_data=ThirdPartyData(
                    remote["id"], *(remote.get(key) for key in _THIRD_PARTY_KEYS)
                ) if remote else None,
                require_secure_channels=content.get("require_secure_channels"),
            ),
            feature_level_type=body.get("feature_level_type"),
            time_to_live=body.get("time_to_live"),
        )

    def _content_body(self) -> dict[str, Any]:
        c = self.content
        content: dict[str, Any] = {"subject": c.subject, "markdown": c.markdown}
        if c.due_date is not None:
            content["due_date"] = c.due_date
        if (p := c.payment_data) is not None:
            payment: dict[str, Any] = {"amount": p.amount, "notice_number": p.notice_number}
            if p.invalid_after_due_date is not None:
                payment["invalid_after_due_date"] = p.invalid_after_due_date
            if p.payee_fiscal_code is not None:
                payment["payee"] = {"fiscal_code": p.payee_fiscal_code}
            content["payment_data"] = payment
        if (t := c.third_party_data) is not None:
            remote: dict[str, Any] = {"id": t.id}
            for key in _THIRD_PARTY_KEYS:
                if (value := getattr(t, key)) is not None:
                    remote[key] = value
            content["third_party_data"] = remote
        if c.require_secure_channels is not None:
            content["require_secure_channels"] = c.require_secure_channels
        body: dict[str, Any] = {"content": content}
        if self.feature_level_type is not None:
            body["feature_level_type"] = self.feature_level_type
        if self.time_to_live is not None:
            body["time_to_live"] = self.time_to_live
        return body


class MessageBuilder:
    """Builds messages from records whose values come in a fixed order of :class:`Field`\\ s.

    Positions are looked up once per campaign, not once per row: this runs a million times.
    A payment needs both amount and notice number, remote content needs its id: a record
    without them gets none (validation has already refused a row that asked for half).
    """

    def __init__(self, fields: Sequence[Field]) -> None:
        missing = {Field.SUBJECT, Field.MARKDOWN} - set(fields)
        if missing:
            raise ValueError(f"a message needs {', '.join(sorted(missing))}")
        self.fields = tuple(fields)
        self._build = _builder({name: i for i, name in enumerate(fields)})

    def __call__(self, fiscal_code: str, record: Sequence[Any]) -> OutgoingMessage:
        return self._build(fiscal_code, record)


def _builder(index: Mapping[Field, int]) -> Callable[[str, Sequence[Any]], OutgoingMessage]:
    """The per-row function, with every position resolved (``-1``: the field is absent)."""
    f = Field
    subject, markdown, due, secure, amount, notice, after, payee, tp_id, level, ttl = (
        index.get(name, -1) for name in (
            f.SUBJECT, f.MARKDOWN, f.DUE_DATE, f.REQUIRE_SECURE_CHANNELS, f.AMOUNT,
            f.NOTICE_NUMBER, f.INVALID_AFTER_DUE_DATE, f.PAYEE_FISCAL_CODE, f.THIRD_PARTY_ID,
            f.FEATURE_LEVEL_TYPE, f.TIME_TO_LIVE,
        )
    )
    remote_extras = tuple(index.get(f(f"content.third_party_data.{key}"), -1)
                          for key in _THIRD_PARTY_KEYS)

    def build(fiscal_code: str, record: Sequence[Any]) -> OutgoingMessage:
        def at(position: int) -> Any:
            return record[position] if position >= 0 else None

        payment = None
        if at(amount) is not None and at(notice) is not None:
            payment = PaymentData(record[amount], record[notice], at(after), at(payee))
        remote = None
        if at(tp_id) is not None:
            remote = ThirdPartyData(record[tp_id], *(at(p) for p in remote_extras))
        content = MessageContent(record[subject], record[markdown], at(due), payment, remote,
                                 at(secure))
        return OutgoingMessage(fiscal_code, content, at(level), at(ttl))

    return build
