"""Stored messages, their inbox view, and their lazy ACCEPTED → final status step.

Processing is not a background task: a message knows when it becomes due, and its status is
decided the first time anyone looks after that moment. That is exact, not an approximation,
because the only input that can change meanwhile, the recipient's consent, is settled first:
before the population changes for a fiscal code, every message of that code already due is
decided with the *old* state (:meth:`MessageStore.settle_citizen`). So a consent withdrawn
after a message was processed does not reject it, and one withdrawn before does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

ACCEPTED, PROCESSED, REJECTED, FAILED = "ACCEPTED", "PROCESSED", "REJECTED", "FAILED"
READ_STATUSES = ("UNREAD", "READ", "UNAVAILABLE")
PAYMENT_STATUSES = ("NOT_PAID", "PAID")

Recipient = Callable[[str, str], bool]
"""``(fiscal_code, service_id) -> may this service write to this citizen now?``"""


@dataclass(slots=True)
class StoredMessage:
    id: str
    fiscal_code: str
    service_id: str
    ente: str
    created_at: str
    due_at: float
    time_to_live: int
    feature_level_type: str
    content: dict[str, object]
    content_hash: str
    will_fail: bool = False
    status: str = ACCEPTED
    read_status: str = "UNREAD"
    payment_status: str = "NOT_PAID"

    @property
    def has_payment(self) -> bool:
        return "payment_data" in self.content

    def settle(self, now: float, recipient: Recipient) -> None:
        """Decide the final status if the message is due and still undecided."""
        if self.status != ACCEPTED or now < self.due_at:
            return
        if self.will_fail:
            self.status = FAILED
        elif recipient(self.fiscal_code, self.service_id):
            self.status = PROCESSED
        else:
            self.status = REJECTED

    def inbox_entry(self) -> dict[str, object]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "subject": self.content["subject"],
            "content_hash": self.content_hash,
            "service_id": self.service_id,
            "feature_level_type": self.feature_level_type,
            "status": self.status,
            "third_party_id": (self.content.get("third_party_data") or {}).get("id"),
        }


def content_hash(content: dict[str, object]) -> str:
    """SHA-256 of the decoded content as canonical JSON: equal content, equal hash."""
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


class MessageStore:
    """Messages by id and by recipient, in arrival order."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredMessage] = {}
        self._by_recipient: dict[str, list[StoredMessage]] = {}

    def add(self, message: StoredMessage) -> None:
        self._by_id[message.id] = message
        self._by_recipient.setdefault(message.fiscal_code, []).append(message)

    def get(self, message_id: str) -> StoredMessage | None:
        return self._by_id.get(message_id)

    def find(self, fiscal_code: str, message_id: str) -> StoredMessage | None:
        """The message only if it was sent to this fiscal code (IO looks up the pair)."""
        message = self._by_id.get(message_id)
        return message if message is not None and message.fiscal_code == fiscal_code else None

    def for_recipient(self, fiscal_code: str) -> list[StoredMessage]:
        return list(self._by_recipient.get(fiscal_code, ()))

    def recipients(self) -> Iterator[tuple[str, list[StoredMessage]]]:
        yield from self._by_recipient.items()

    def settle_citizen(self, fiscal_code: str, now: float, recipient: Recipient) -> None:
        for message in self._by_recipient.get(fiscal_code, ()):
            message.settle(now, recipient)

    def settle_all(self, now: float, recipient: Recipient) -> None:
        for message in self._by_id.values():
            message.settle(now, recipient)

    def __len__(self) -> int:
        return len(self._by_id)

    def clear(self) -> None:
        self._by_id.clear()
        self._by_recipient.clear()
