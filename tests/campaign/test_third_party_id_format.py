"""A third-party id IO could not put in the content server's address is refused by row."""

from __future__ import annotations

import pytest

from dispatcher.campaign import ProblemCode

TEXT = "Gentile contribuente, le inviamo il documento che trova nell'app IO. " * 2
HEADER = "codice_fiscale;oggetto;testo;third_party_id;configuration_id\n"
CONFIG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize("bad", ["REF/2027/0501", "..", ".", "REF #12", "RÉF-1", "a b",
                                 "x" * 129, "REF%2F1"])
def test_ids_that_are_no_url_path_segment_are_refused(load, bad: str) -> None:
    campaign = load(HEADER + f"RSSMRA85T10A562S;Avviso TARI 2027;{TEXT};{bad};{CONFIG}\n")
    codes = [p.code for p in campaign.problems if p.row == 2]
    assert codes == [ProblemCode.THIRD_PARTY_ID_FORMAT], codes


@pytest.mark.parametrize("good", ["REF-2027-0501", "PRATICA.12_a~b", "x" * 128, "..a"])
def test_unreserved_characters_pass(load, good: str) -> None:
    campaign = load(HEADER + f"RSSMRA85T10A562S;Avviso TARI 2027;{TEXT};{good};{CONFIG}\n")
    assert not [p for p in campaign.problems if p.is_error]
