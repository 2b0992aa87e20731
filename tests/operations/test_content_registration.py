"""A row whose remote content cannot be stored is recorded invalid, with the reason, and
not sent; the other rows of its chunk are registered as usual."""

from __future__ import annotations

import shutil
from pathlib import Path

from dispatcher.campaign import CampaignSource
from dispatcher.content.store import ContentStore
from dispatcher.operations.content_registration import ContentRegistrar
from dispatcher.operations.starting import new_row
from dispatcher.vocabulary import RowState

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _rows(folder: Path) -> list:
    for name in ("referto_remoto.csv", "referto_remoto.toml", "avviso_tari.pdf"):
        shutil.copy(SAMPLE / name, folder / name)
    source = CampaignSource(folder / "referto_remoto.csv", folder / "referto_remoto.toml")
    return [row for row in source.load().rows() if row.remote is not None]


def test_a_changed_attachment_makes_its_row_invalid_and_spares_the_others(tmp_path: Path,
                                                                          ) -> None:
    rows = _rows(tmp_path)
    assert len(rows) == 3 and rows[0].remote.attachments  # row 2 carries the PDF
    (tmp_path / "avviso_tari.pdf").write_bytes(b"%PDF-1.7 changed after validation")
    with ContentStore.open(tmp_path / "content.sqlite") as store:
        registrar = ContentRegistrar(store)
        recorded = registrar.register(rows, [new_row(row) for row in rows])
        assert [r.state for r in recorded] == [RowState.INVALID, RowState.PENDING,
                                               RowState.PENDING]
        assert "changed since it was validated" in (recorded[0].detail or "")
        assert recorded[0].body is None  # nothing a resume could send
        assert (registrar.registered, registrar.refused) == (2, 1)
        assert store.lookup(rows[0].remote.third_party_id, rows[0].fiscal_code) is None
        assert store.lookup(rows[1].remote.third_party_id, rows[1].fiscal_code) is not None


def test_registering_the_same_chunk_again_changes_nothing(tmp_path: Path) -> None:
    rows = _rows(tmp_path)
    with ContentStore.open(tmp_path / "content.sqlite") as store:
        registrar = ContentRegistrar(store)
        first = registrar.register(rows, [new_row(row) for row in rows])
        again = registrar.register(rows, [new_row(row) for row in rows])  # a resumed run
        assert first == again and {r.state for r in again} == {RowState.PENDING}
        assert store.count() == 3
