"""The content store keeps what IO will fetch: keyed recipients, content, attachments once."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from contenttools import (
    CITIZEN,
    OTHER_CITIZEN,
    REGISTERED,
    attachment_for,
    content,
    write_pdf,
)

from dispatcher.content.model import Attachment
from dispatcher.content.store import (
    ContentConflict,
    ContentStore,
    ContentStoreError,
    OpenKind,
)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    opened = ContentStore.open(tmp_path / "content" / "store.sqlite")
    yield opened
    opened.close()


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_a_registered_message_is_found_only_with_its_recipients_fiscal_code(
        store: ContentStore, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "avviso.pdf")
    store.register([(CITIZEN, content("M-1", attachment_for(pdf)))], registered_at=REGISTERED)

    found = store.lookup("M-1", CITIZEN.lower())  # IO sends upper case; the store normalises
    assert found is not None
    assert found.content.subject.startswith("Avviso TARI")
    assert found.content.precondition is not None
    assert [a.id for a in found.content.attachments] == ["avviso"]
    assert found.content.attachments[0].source is None  # the bytes live in the store
    assert found.registered_at == REGISTERED
    assert store.lookup("M-1", OTHER_CITIZEN) is None
    assert store.lookup("M-404", CITIZEN) is None


def test_the_file_holds_no_fiscal_code_nor_its_plain_hash(store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
    store.close()
    raw = b"".join(p.read_bytes() for p in store.path.parent.iterdir())
    assert CITIZEN.encode() not in raw
    plain = hashlib.sha256(CITIZEN.encode())
    assert plain.digest() not in raw and plain.hexdigest().encode() not in raw


def test_each_store_keys_recipients_with_its_own_secret(tmp_path: Path) -> None:
    with ContentStore.open(tmp_path / "a.sqlite") as a, \
            ContentStore.open(tmp_path / "b.sqlite") as b:
        assert a.recipient_key(CITIZEN) != b.recipient_key(CITIZEN)
    with ContentStore.open(tmp_path / "a.sqlite") as again:  # the secret lasts: months later
        assert again.recipient_key(CITIZEN) == a.recipient_key(CITIZEN)


def test_registering_the_same_content_again_is_a_no_op(store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED + timedelta(days=1))
    found = store.lookup("M-1", CITIZEN)
    assert found is not None and found.registered_at == REGISTERED
    assert store.count() == 1


def test_an_id_cannot_be_reused_for_another_recipient_or_other_content(
        store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
    with pytest.raises(ContentConflict, match="another recipient") as caught:
        store.register([(OTHER_CITIZEN, content("M-1"))], registered_at=REGISTERED)
    assert OTHER_CITIZEN not in str(caught.value)
    with pytest.raises(ContentConflict, match="other content"):
        store.register([(CITIZEN, content("M-1", subject="Un altro oggetto del messaggio"))],
                       registered_at=REGISTERED)


def test_a_call_is_one_transaction_all_or_nothing(store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
    with pytest.raises(ContentConflict):
        store.register([(CITIZEN, content("M-2")), (OTHER_CITIZEN, content("M-1"))],
                       registered_at=REGISTERED)
    assert store.lookup("M-2", CITIZEN) is None


def test_one_pdf_for_many_citizens_is_stored_once(store: ContentStore, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "avviso.pdf", 100_000)
    shared = attachment_for(pdf)
    codes = [f"RSSMRA80A01H5{n:02d}U" for n in range(40)]
    store.register([(cf, content(f"M-{n}", shared)) for n, cf in enumerate(codes)],
                   registered_at=REGISTERED)
    assert _count(store.path, "blobs") == 1
    assert _count(store.path, "attachments") == 40
    assert b"".join(store.attachment_chunks(shared.sha256, chunk_size=7000)) == pdf.read_bytes()


def test_a_file_changed_after_validation_is_refused(store: ContentStore, tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "avviso.pdf")
    checked = attachment_for(pdf)
    write_pdf(pdf, marker=b"edited")
    with pytest.raises(ContentStoreError, match="changed since it was validated"):
        store.register([(CITIZEN, content("M-1", checked))], registered_at=REGISTERED)
    assert store.count() == 0


def test_an_attachment_without_bytes_or_source_is_refused(store: ContentStore) -> None:
    ghost = Attachment(id="a", name="a.pdf", sha256="0" * 64, size=10, url="a.pdf")
    with pytest.raises(ContentStoreError, match="not in the store"):
        store.register([(CITIZEN, content("M-1", ghost))], registered_at=REGISTERED)


def test_an_attachment_url_the_server_cannot_route_is_refused(store: ContentStore,
                                                              tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a.pdf")
    with pytest.raises(ContentStoreError, match="precondition"):
        store.register([(CITIZEN, content("M-1", attachment_for(pdf, url="precondition")))],
                       registered_at=REGISTERED)


def test_times_must_say_their_zone(store: ContentStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.register([(CITIZEN, content("M-1"))], registered_at=datetime(2027, 1, 1))


def test_opens_are_summed_per_message(store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1")), (CITIZEN, content("M-2"))],
                   registered_at=REGISTERED)
    first = REGISTERED + timedelta(hours=2)
    store.record_open("M-1", None, OpenKind.DETAILS, first)
    store.record_open("M-1", None, OpenKind.PRECONDITION, first)
    store.record_open("M-1", "avviso", OpenKind.ATTACHMENT, first + timedelta(minutes=1))
    store.record_open("M-1", "avviso", OpenKind.ATTACHMENT, first + timedelta(minutes=2))
    store.record_open("M-1", None, OpenKind.DETAILS, first + timedelta(days=3))

    summary = store.opens()
    assert set(summary) == {"M-1"}  # M-2 was never opened
    m1 = summary["M-1"]
    assert (m1.first_opened_at, m1.last_opened_at) == (first, first + timedelta(days=3))
    assert (m1.opens, m1.precondition_reads, m1.attachment_downloads,
            m1.attachments_downloaded) == (2, 1, 2, 1)
    assert store.opens(["M-2"]) == {}
    assert set(store.opens(["M-1", "M-2"])) == {"M-1"}


def test_prune_removes_old_messages_and_the_bytes_only_they_used(store: ContentStore,
                                                                 tmp_path: Path) -> None:
    old_pdf = attachment_for(write_pdf(tmp_path / "old.pdf", 50_000, marker=b"old"), id="old")
    shared = attachment_for(write_pdf(tmp_path / "shared.pdf", 20_000, marker=b"s"), id="s")
    store.register([(CITIZEN, content("OLD-1", old_pdf, shared)),
                    (OTHER_CITIZEN, content("OLD-2", old_pdf))], registered_at=REGISTERED)
    store.register([(CITIZEN, content("NEW-1", shared))],
                   registered_at=REGISTERED + timedelta(days=60))
    store.record_open("OLD-1", None, OpenKind.DETAILS, REGISTERED + timedelta(days=1))

    result = store.prune(REGISTERED + timedelta(days=30))

    assert (result.messages, result.blobs, result.bytes_freed) == (2, 1, old_pdf.size)
    assert store.lookup("OLD-1", CITIZEN) is None
    assert store.lookup("NEW-1", CITIZEN) is not None
    assert b"".join(store.attachment_chunks(shared.sha256)) == shared.source.read_bytes()
    assert "OLD-1" in store.opens()  # the reports may still ask
    assert store.prune(REGISTERED + timedelta(days=30)).messages == 0


def test_the_store_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "state" / "content" / "store.sqlite"
        with ContentStore.open(path) as store:
            store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
            files = [path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
    finally:
        os.umask(previous)
    assert modes and set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "store.sqlite"
    bogus.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(ContentStoreError, match=str(bogus)):
        ContentStore.open(bogus)


def test_open_times_given_in_italian_time_come_back_in_utc(store: ContentStore) -> None:
    store.register([(CITIZEN, content("M-1"))], registered_at=REGISTERED)
    rome = timezone(timedelta(hours=1))
    store.record_open("M-1", None, OpenKind.DETAILS, datetime(2027, 1, 11, 11, 0, tzinfo=rome))
    first = store.opens()["M-1"].first_opened_at
    assert first.tzinfo is UTC and first == datetime(2027, 1, 11, 10, 0, tzinfo=UTC)


def test_a_batch_of_opens_larger_than_one_statement_is_recorded_whole(
        store: ContentStore) -> None:
    """The server's recorder writes a second of opens at a time, many rows per statement:
    every open arrives, with its own time and kind, whatever the batch's size."""
    kinds = [OpenKind.DETAILS, "precondition", OpenKind.ATTACHMENT]
    opens = [(f"M-{n % 7}", "avviso" if n % 3 == 2 else None, kinds[n % 3],
              1_800_000_000.123456 + n / 1000) for n in range(1001)]
    opens[500] = ("M-0", None, OpenKind.DETAILS, REGISTERED + timedelta(microseconds=250))
    store.record_opens(opens)
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT third_party_id, attachment_id, kind, at FROM opens "
                          "ORDER BY rowid").fetchall()
    expected = [(tid, aid, str(kind), at if isinstance(at, float) else at.timestamp())
                for tid, aid, kind, at in opens]
    assert rows == expected
    with pytest.raises(ValueError):
        store.record_opens([("M-1", None, "viewed", 1_800_000_000.0)])
    assert _count(store.path, "opens") == 1001
