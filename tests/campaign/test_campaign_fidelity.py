"""What the file says is what the user sees: cell problems, template problems said once,
the file's own column names, masking only what is personal, shared third-party ids, and no
failure of any kind escaping as anything but a CampaignFileError."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from campaign_helpers import CF1, CF2, CF3, MARKDOWN, NOW, SUBJECT, row, rows_csv
from stdnum.it import codicefiscale

from dispatcher.campaign import (
    CampaignFileError,
    CampaignOptions,
    ProblemCode,
    judgement,
    load_campaign,
)
from dispatcher.campaign import campaign as campaign_module
from dispatcher.campaign.campaign import Campaign
from dispatcher.campaign.headers import resolve_headers
from dispatcher.campaign.reader import Table
from dispatcher.campaign.rules import Plan
from dispatcher.privacy import looks_like_fiscal_code, mask_if_fiscal_code
from dispatcher.vocabulary import InputVerdict, Language

NOTICE = "301234567890123416"  # check digits right: 3012345678901234 % 93 = 16
CONFIG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
MONTHS = "ABCDEHLMPRST"


def fiscal_codes(count: int) -> list[str]:
    """``count`` distinct valid fiscal codes (check character from python-stdnum)."""
    bodies = [f"RSSMRA80{m}{day:02d}H501" for m in MONTHS for day in range(1, 29)]
    return [body + codicefiscale.calc_check_digit(body) for body in bodies[:count]]


def toml(subject: str = SUBJECT, markdown: str = MARKDOWN) -> str:
    return f'subject = "{subject}"\nmarkdown = """\n{markdown}\n"""\n'


# -- 1. cell problems from the reader ------------------------------------------------------


def _table(text: str, cells: pl.DataFrame) -> Table:
    lines = text.strip().split("\n")
    header = lines[0].split(",")
    columns = resolve_headers(header, "c.csv")
    records = [line.split(",") for line in lines[1:]]
    frame = pl.DataFrame(
        {"__row": list(range(2, 2 + len(records))),
         **{name: [r[i] for r in records] for i, name in enumerate(columns.names)}},
        schema={"__row": pl.Int64, **{name: pl.String for name in columns.names}},
    )
    return Table(frame, columns, "0" * 64, "csv", "utf-8", ",", (), cells)


def test_every_row_with_a_cell_problem_is_invalid_and_lists_it_with_its_other_problems(
) -> None:
    text = rows_csv(row(CF1), row("RSSMRA80A01H501X", "corto"), row(CF2),
                    header="Codice Fiscale,Oggetto,Testo")
    cells = pl.DataFrame(
        {"__row": [3, 2, 3], "column": ["markdown", "subject", "fiscal_code"],
         "code": ["invalid_bytes", "invalid_bytes", "excel_number"],
         "value": ["\\xE8 in 'citt\\xE8'", "\\x92", "1.2E+15"]})
    campaign = Campaign(Path("c.csv"), _table(text, cells), None,
                        CampaignOptions(now=NOW))
    states = [r.state for r in campaign.rows()]
    assert states == [InputVerdict.INVALID, InputVerdict.INVALID, InputVerdict.VALID]
    assert campaign.invalid_by_reason() == {
        ProblemCode.INVALID_BYTES: 2, ProblemCode.EXCEL_NUMBER: 1,
        ProblemCode.FISCAL_CODE_CHECKSUM: 1, ProblemCode.SUBJECT_TOO_SHORT: 1}
    listed = [(p.row, p.column, p.code.value) for p in campaign.problems]
    assert listed == [
        (2, "Oggetto", "invalid_bytes"),
        (3, "Codice Fiscale", "excel_number"),  # cells in column order, then the rules
        (3, "Testo", "invalid_bytes"),
        # no fiscal_code_checksum: that cell's real cause is how it was read, said once
        (3, "Oggetto", "subject_too_short"),
    ]
    first = campaign.problems[0]
    assert "\\x92" in first.message and "CSV UTF-8" in first.message
    assert not campaign.preview_rows([2])[0].message  # an invalid row is never rendered


def test_a_cell_problem_in_the_fiscal_code_column_masks_the_code_it_quotes() -> None:
    cells = pl.DataFrame({"__row": [2], "column": ["fiscal_code"], "code": ["invalid_bytes"],
                          "value": ['0xE9 in "RSSMRA80A01H501\\xE9"']})
    campaign = Campaign(Path("c.csv"), _table(rows_csv(row("RSSMRA80A01H501")), cells), None,
                        CampaignOptions(now=NOW))
    message = campaign.problems[0].message
    assert "RSSMRA80A01H501" not in message and "RSSMRA******501\\xE9" in message


def test_cell_problems_of_rows_that_are_no_data_rows_are_ignored() -> None:
    cells = pl.DataFrame({"__row": [40], "column": ["subject"], "code": ["invalid_bytes"],
                          "value": ["\\x92"]})
    campaign = Campaign(Path("c.csv"), _table(rows_csv(row(CF1)), cells), None,
                        CampaignOptions(now=NOW))
    assert (campaign.valid_count, campaign.problems) == (1, [])


# -- 2. template problems said once --------------------------------------------------------


def test_a_placeholder_typo_is_one_file_problem_with_the_closest_header(load) -> None:
    lines = [f"{code},Mario,Rossi" for code in fiscal_codes(200)]
    campaign = load(rows_csv(*lines, header="codice_fiscale,nome,cognome"),
                    template=toml(markdown=MARKDOWN + " Gentile {nome} {cognomen}."))
    assert [(p.code, p.column, p.rows_affected) for p in campaign.file_problems] == [
        (ProblemCode.PLACEHOLDER_MISSING, "cognomen", 200)]
    assert "did you mean {cognome}?" in campaign.file_problems[0].message
    assert campaign.problems == []  # not 200 row errors
    assert (campaign.invalid_count, campaign.has_errors) == (200, True)
    assert campaign.invalid_by_reason() == {ProblemCode.PLACEHOLDER_MISSING: 200}
    # each row still knows why it is not sent (the ledger records it)
    first = next(campaign.rows())
    assert [p.code for p in first.problems] == [ProblemCode.PLACEHOLDER_MISSING]
    assert "did you mean {cognome}" in first.problems[0].message


def test_the_suggestion_also_matches_internal_names_and_is_localised(load) -> None:
    campaign = load(rows_csv(f"{CF1},1250,{NOTICE}", header="cf,importo,codice_avviso"),
                    template=toml(markdown=MARKDOWN + " Importo {amountt|euro}."),
                    language=Language.IT)
    assert "forse si intendeva {importo}?" in campaign.file_problems[0].message


def test_a_placeholder_far_from_every_header_lists_the_columns(load) -> None:
    campaign = load(rows_csv(f"{CF1},Mario", header="cf,nome"),
                    template=toml(markdown=MARKDOWN + " {zzzqqq}"))
    assert "the file's columns: cf, nome" in campaign.file_problems[0].message


def test_a_templated_subject_too_long_for_every_row_is_said_once(load) -> None:
    subject = "Avviso " + "x" * 332  # 339 characters
    lines = [f"{code},Mario" for code in fiscal_codes(200)]
    campaign = load(rows_csv(*lines, header="cf,nome"), template=toml(subject=subject))
    [problem] = campaign.file_problems
    assert (problem.code, problem.rows_affected) == (ProblemCode.SUBJECT_TOO_LONG, 200)
    assert "339 characters long" in problem.message and "template" in problem.message
    assert campaign.problems == [] and campaign.invalid_count == 200
    assert campaign.invalid_by_reason() == {ProblemCode.SUBJECT_TOO_LONG: 200}


def test_rows_with_their_own_subject_are_still_judged_one_by_one(load) -> None:
    template = toml(subject="Avviso " + "x" * 200)
    campaign = load(rows_csv(row(CF1, ""), row(CF2, "Troppo " + "y" * 130), row(CF3, ""),
                             header="cf,oggetto,testo"), template=template)
    [problem] = campaign.file_problems
    assert problem.rows_affected == 2 and problem.column == "oggetto"
    assert [(p.row, p.code.value) for p in campaign.problems] == [(3, "subject_too_long")]
    assert "137 characters" in campaign.problems[0].message


def test_lengths_that_differ_by_row_stay_row_problems(load) -> None:
    """Only some names make the subject too long: that is the rows', not the template's."""
    template = toml(subject="Avviso per " + "z" * 100 + " {sede}")
    campaign = load(rows_csv(f"{CF1},Al", f"{CF2},{'B' * 20}", header="cf,sede"),
                    template=template)
    assert campaign.file_problems == ()
    assert [(p.row, p.code.value) for p in campaign.problems] == [(3, "subject_too_long")]


def test_varying_lengths_all_out_of_limits_are_one_problem_with_the_range(load) -> None:
    campaign = load(rows_csv(f"{CF1},Al", f"{CF2},Bruno", header="cf,nome"),
                    template=toml(markdown="Breve: {nome}."))
    [problem] = campaign.file_problems
    assert problem.code is ProblemCode.MARKDOWN_TOO_SHORT
    assert "10-13 characters" in problem.message and problem.rows_affected == 2


# -- 3. columns as the user wrote them ----------------------------------------------------


def test_problems_name_the_files_header_and_the_field_it_fills(load) -> None:
    campaign = load(rows_csv(f"{CF1},{SUBJECT},{MARKDOWN},1250,",
                             header="Codice Fiscale,Oggetto,Testo,importo,Codice Avviso"))
    [problem] = campaign.problems
    assert problem.column == "Codice Avviso"  # the file's header, as written
    assert campaign.column_title(problem.column) == "Codice Avviso (notice_number)"
    assert "but Codice Avviso (notice_number) is empty" in problem.message
    assert campaign.column_title("amount") == "importo (amount)"
    assert campaign.column_title("Testo") == "Testo (markdown)"
    assert campaign.column_title("fiscal_code") == "Codice Fiscale (fiscal_code)"


def test_a_column_that_is_no_field_is_named_as_written(load) -> None:
    campaign = load(rows_csv(f"{CF1},{SUBJECT},{MARKDOWN},x",
                             header="fiscal_code,subject,markdown,Cognome"))
    assert campaign.column_title("cognome") == "Cognome"
    assert campaign.column_title("subject") == "subject"


# -- 4. masking only what is personal ------------------------------------------------------


@pytest.mark.parametrize(("value", "masked"), [
    ("RSSMRA80A01H501U", True), ("rssmra80a01h501u", True), ("RSSMRA8LA01H5M1U", True),
    ("RSSMRA80A01H501", True),  # a near miss is still a person's code
    ("80012345678", True), ("TOTALE", False), ("N/A", False), ("", False),
    ("SOMMA TOTALE 2027", False), ("12345", False),
])
def test_what_looks_like_a_fiscal_code(value: str, masked: bool) -> None:
    assert looks_like_fiscal_code(value) is masked
    assert (mask_if_fiscal_code(value) != value) is masked


def test_a_value_that_is_no_fiscal_code_is_shown_as_typed(load) -> None:
    campaign = load(rows_csv(row("TOTALE"), row("RSSMRA80A01H501"), row("80012345678")))
    messages = [p.message for p in campaign.problems]
    assert messages[0].startswith("'TOTALE' (6 characters) is not a fiscal code")
    assert "RSSMRA80A01H501" not in messages[1] and "RSSMRA******501" in messages[1]
    assert "80012345678" not in messages[2]


# -- 5. shared third-party ids ---------------------------------------------------------------

TP_HEADER = "fiscal_code,subject,markdown,third_party_id,configuration_id"


def tp(code: str, third_party_id: str) -> str:
    return row(code, SUBJECT, MARKDOWN, third_party_id, CONFIG)


def test_a_third_party_id_shared_by_two_citizens_is_an_error_on_the_later_rows(load) -> None:
    campaign = load(rows_csv(tp(CF1, "PRATICA-0001"), tp(CF2, "PRATICA-0002"),
                             tp(CF3, "PRATICA-0001"), tp(CF2, "PRATICA-0001"),
                             header=TP_HEADER))
    states = [r.state for r in campaign.rows()]
    assert states == [InputVerdict.VALID, InputVerdict.VALID, InputVerdict.INVALID,
                      InputVerdict.INVALID]
    listed = [(p.row, p.column, p.code.value) for p in campaign.problems]
    assert listed == [(4, "third_party_id", "third_party_id_shared"),
                      (5, "third_party_id", "third_party_id_shared")]
    assert "'PRATICA-0001'" in campaign.problems[0].message
    assert "row 2" in campaign.problems[0].message
    assert campaign.invalid_by_reason() == {ProblemCode.THIRD_PARTY_ID_SHARED: 2}


def test_the_same_citizen_twice_with_the_same_id_is_a_duplicate_not_a_shared_id(load) -> None:
    campaign = load(rows_csv(tp(CF1, "PRATICA-0001"), tp(CF1, "PRATICA-0001"),
                             header=TP_HEADER))
    assert [p.code for p in campaign.problems] == [ProblemCode.DUPLICATE]
    assert (campaign.valid_count, campaign.duplicate_count, campaign.has_errors) == (
        1, 1, False)


def test_shared_ids_are_found_across_chunks(load, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(judgement, "CHUNK_ROWS", 2)
    monkeypatch.setattr(campaign_module, "ROWS_CHUNK", 2)
    codes = fiscal_codes(7)
    lines = [tp(code, f"P-{i}") for i, code in enumerate(codes[:6])] + [tp(codes[6], "P-0")]
    campaign = load(rows_csv(*lines, header=TP_HEADER))
    assert [(p.row, p.code.value) for p in campaign.problems] == [(8, "third_party_id_shared")]
    assert "row 2" in campaign.problems[0].message


# -- 8. nothing escapes as a traceback -----------------------------------------------------


def _boom(message: str):
    def fail(*_args: object, **_kwargs: object) -> None:
        raise pl.exceptions.PanicException(message)
    return fail


def test_a_panic_while_judging_is_a_file_error_without_cell_text(
        write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(rows_csv(row(CF1)))
    monkeypatch.setattr(campaign_module, "judge",
                        _boom(f'bitmap_ops.rs: could not parse "Mario Rossi" for {CF1}'))
    with pytest.raises(CampaignFileError) as caught:
        load_campaign(path, options=CampaignOptions(now=NOW))
    text = str(caught.value)
    assert str(path) in text and "could not be validated" in text
    assert "PanicException in campaign.py" in text and "bitmap_ops.rs" in text
    assert "Mario Rossi" not in text and CF1 not in text


def test_a_failure_while_rendering_rows_later_is_a_file_error_too(
        load, monkeypatch: pytest.MonkeyPatch) -> None:
    campaign = load(rows_csv(row(CF1), row(CF2)))
    monkeypatch.setattr(Plan, "message_values", _boom("boom"))
    for answer in (lambda: list(campaign.rows()), campaign.preview,
                   lambda: campaign.preview_rows([3])):
        with pytest.raises(CampaignFileError, match="could not be validated"):
            answer()


def test_reader_errors_quoting_a_fiscal_code_are_masked(
        write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(rows_csv(row(CF1)))

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise CampaignFileError(path, f"could not parse line 3: {CF2};Mario;Rossi")

    monkeypatch.setattr(campaign_module, "read_table", unreadable)
    with pytest.raises(CampaignFileError) as caught:
        load_campaign(path)
    assert CF2 not in str(caught.value) and "CNTLCU*******19G;Mario" in str(caught.value)


def test_keyboard_interrupt_is_not_swallowed(write, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(rows_csv(row(CF1)))

    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign_module, "judge", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_campaign(path)
