"""Every IO constraint, one tiny file at a time: which rows get which problem codes."""

from __future__ import annotations

import pytest
from campaign_helpers import CF1, CF2, CF3, MARKDOWN, SUBJECT, codes_by_row, row, rows_csv

from dispatcher.campaign import ProblemCode, Severity
from dispatcher.vocabulary import InputVerdict

PAY = "fiscal_code,subject,markdown,amount,notice_number"
NOTICE = "301234567890123416"


def pay(amount: str, notice: str = NOTICE, code: str = CF1) -> str:
    return row(code, SUBJECT, MARKDOWN, amount, notice)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # fiscal code
        (row(""), ["fiscal_code_missing"]),
        (row("RSSMRA80A01H501"), ["fiscal_code_format"]),
        (row("RSSMRA80A01H501X"), ["fiscal_code_checksum"]),
        (row("RSSMRA80A32H501C"), ["fiscal_code_birth_date"]),
        (row("80012345678"), ["fiscal_code_temporary"]),
        (row(" rssmra80a01h501u\u200b"), []),
        # subject and text lengths (UTF-16 units)
        (row(CF1, "Avviso!"), ["subject_too_short"]),
        (row(CF1, "x" * 121), ["subject_too_long"]),
        (row(CF1, "x" * 120), []),
        (row(CF1, SUBJECT, "x" * 79), ["markdown_too_short"]),
        (row(CF1, SUBJECT, "x" * 10001), ["markdown_too_long"]),
        (row(CF1, SUBJECT, "x" * 78 + "😀"), []),  # 79 code points, 80 UTF-16 units
        (row(CF1, ""), ["subject_missing"]),
        (row(CF1, SUBJECT, ""), ["markdown_missing"]),
        # warnings do not make a row invalid
        (row(CF1, f"Avviso per {CF1}"), ["subject_personal_data"]),
        (row(CF1, SUBJECT, MARKDOWN + " <b>ciao</b>"), ["markdown_html"]),
        (row(CF1, SUBJECT, MARKDOWN + " a < b e <https://io.italia.it>"), []),
    ],
)
def test_recipient_and_text_rules(load, line: str, expected: list[str]) -> None:
    campaign = load(rows_csv(line))
    assert codes_by_row(campaign).get(2, []) == expected
    errors = [c for c in expected if not c.startswith(("subject_personal", "markdown_html"))]
    assert campaign.has_errors is bool(errors)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (pay("1250"), []),
        (pay("0001250"), []),
        (pay('"12,50"'), ["amount_not_cents"]),
        (pay("12.50"), ["amount_not_cents"]),
        (pay("1.234"), ["amount_not_cents"]),
        (pay("€ 12"), ["amount_not_cents"]),
        (pay("dodici"), ["amount_format"]),
        (pay("-5"), ["amount_format"]),
        (pay("0"), ["amount_range"]),
        (pay("10000000000"), ["amount_range"]),
        (pay("9999999999"), []),
        (pay("99999999999999999999999"), ["amount_range"]),
        (pay("1250", "01234567890123456"), ["notice_number_format"]),
        (pay("1250", "401234567890123456"), ["notice_number_format"]),
        (pay("1250", "3012 3456 7890 1234 16"), []),  # spaces inside are removed
        (pay("1250", ""), ["payment_incomplete"]),
        (pay("", NOTICE), ["payment_incomplete"]),
        (pay("", ""), []),  # no payment at all is fine
    ],
)
def test_payment_rules_in_cents(load, line: str, expected: list[str]) -> None:
    assert codes_by_row(load(rows_csv(line, header=PAY))).get(2, []) == expected


@pytest.mark.parametrize(
    ("amount", "cents"),
    [("12,50", 1250), ("12.5", 1250), ("1.234,56", 123456), ("1,234.56", 123456),
     ("€ 1.234", 123400), ("12", 1200), ("0,01", 1), ("99.999.999,99", 9999999999)],
)
def test_euro_amounts_convert_exactly(load, amount: str, cents: int) -> None:
    campaign = load(rows_csv(pay(f'"{amount}"'), header=PAY), amount_unit="euro")
    payload = campaign.preview().message.body()  # type: ignore[union-attr]
    assert payload["content"]["payment_data"]["amount"] == cents


@pytest.mark.parametrize(("amount", "code"),
                         [("12,345", "amount_format"), ("1,234", "amount_format"),
                          ("0,00", "amount_range"), ("abc", "amount_format")])
def test_bad_euro_amounts(load, amount: str, code: str) -> None:
    campaign = load(rows_csv(pay(f'"{amount}"'), header=PAY), amount_unit="euro")
    assert codes_by_row(campaign)[2] == [code]


@pytest.mark.parametrize(
    ("value", "expected", "iso"),
    [
        ("2027-01-31", [], "2027-01-31T22:59:59.000Z"),  # end of the day in Rome (CET)
        ("2027-07-31", [], "2027-07-31T21:59:59.000Z"),  # CEST
        ("31/01/2027", [], "2027-01-31T22:59:59.000Z"),
        ("31/01/2027 10:30", [], "2027-01-31T09:30:00.000Z"),
        ("2027-01-31T10:30:00", [], "2027-01-31T09:30:00.000Z"),
        ("2027-01-31T10:30:00Z", [], "2027-01-31T10:30:00.000Z"),
        ("2027-01-31T10:30:00.25+02:00", [], "2027-01-31T08:30:00.250Z"),
        ("2027-10-31T02:30:00", [], "2027-10-31T00:30:00.000Z"),  # ambiguous: earlier
        ("2027-03-28T02:30:00", ["date_format"], None),  # skipped by the DST change
        ("2027-02-29", ["date_format"], None),
        ("31-31-2027", ["date_format"], None),
        ("domani", ["date_format"], None),
        ("2020-01-31", ["due_date_past"], "2020-01-31T22:59:59.000Z"),
    ],
)
def test_due_dates(load, value: str, expected: list[str], iso: str | None) -> None:
    campaign = load(rows_csv(row(CF1, SUBJECT, MARKDOWN, value),
                             header="fiscal_code,subject,markdown,due_date"))
    assert codes_by_row(campaign).get(2, []) == expected
    rows = list(campaign.rows())
    if iso is not None:
        assert rows[0].message.body()["content"]["due_date"] == iso  # type: ignore[index]


OPTIONAL = ("fiscal_code,subject,markdown,payee_fiscal_code,invalid_after_due_date,"
            "feature_level_type,time_to_live,require_secure_channels,amount,notice_number")


def optional(payee: str = "", invalid_after: str = "", level: str = "", ttl: str = "",
             secure: str = "", amount: str = "1250", notice: str = NOTICE) -> str:
    return row(CF1, SUBJECT, MARKDOWN, payee, invalid_after, level, ttl, secure, amount, notice)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (optional(payee="00123450587"), []),
        (optional(payee="0012345058"), ["payee_format"]),
        (optional(payee="00123450588"), ["payee_checksum"]),
        (optional(invalid_after="sì"), []),
        (optional(invalid_after="forse"), ["boolean_format"]),
        (optional(level="advanced"), []),
        (optional(level="PREMIUM"), ["choice_invalid"]),
        (optional(ttl="3600"), []),
        (optional(ttl="604800"), []),
        (optional(ttl="3599"), ["time_to_live_range"]),
        (optional(ttl="1h"), ["time_to_live_range"]),
        (optional(secure="VERO"), []),
        (optional(secure="2"), ["boolean_format"]),
    ],
)
def test_optional_fields(load, line: str, expected: list[str]) -> None:
    assert codes_by_row(load(rows_csv(line, header=OPTIONAL))).get(2, []) == expected


@pytest.mark.parametrize(("word", "value"),
                         [("true", True), ("Sì", True), ("si'", True), ("1", True),
                          ("vero", True), ("NO", False), ("falso", False), ("0", False)])
def test_booleans_accept_italian_and_english(load, word: str, value: bool) -> None:
    campaign = load(rows_csv(optional(invalid_after=word), header=OPTIONAL))
    payment = campaign.preview().message.body()["content"]["payment_data"]  # type: ignore[union-attr]
    assert payment["invalid_after_due_date"] is value


REMOTE = ("fiscal_code,subject,markdown,third_party_id,configuration_id,has_attachments,"
          "feature_level_type,summary")
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("ID-1", ULID, "", "", ""), []),
        (("ID-1", "", "", "", ""), ["configuration_id_missing"]),
        (("ID-1", "not-a-ulid", "", "", ""), ["configuration_id_format"]),
        (("", ULID, "", "", "Sintesi"), ["third_party_id_missing"]),
        (("ID-1", ULID, "true", "", ""), ["attachments_need_advanced"]),
        (("ID-1", ULID, "true", "ADVANCED", ""), []),
        (("", "", "", "", ""), []),
    ],
)
def test_remote_content(load, values: tuple[str, ...], expected: list[str]) -> None:
    line = row(CF1, SUBJECT, MARKDOWN, *values)
    assert codes_by_row(load(rows_csv(line, header=REMOTE))).get(2, []) == expected


def test_duplicates_first_valid_row_wins_and_are_not_errors(load) -> None:
    campaign = load(rows_csv(row(CF1), row(CF2), row(CF1.lower()), row(f" {CF1} ")))
    rows = list(campaign.rows())
    assert [r.state for r in rows] == [InputVerdict.VALID, InputVerdict.VALID,
                                       InputVerdict.DUPLICATE, InputVerdict.DUPLICATE]
    assert [r.duplicate_of for r in rows] == [None, None, 2, 2]
    assert rows[2].message is None and rows[2].content_hash is None
    assert campaign.duplicate_count == 2 and not campaign.has_errors
    duplicate = rows[2].problems[-1]
    assert (duplicate.code, duplicate.severity) == (ProblemCode.DUPLICATE, Severity.NOTICE)


def test_an_invalid_first_occurrence_does_not_claim_the_fiscal_code(load) -> None:
    campaign = load(rows_csv(row(CF1, "corto"), row(CF1), row(CF1)))
    states = [(r.row, r.state, r.duplicate_of) for r in campaign.rows()]
    assert states == [(2, InputVerdict.INVALID, None), (3, InputVerdict.VALID, None),
                      (4, InputVerdict.DUPLICATE, 3)]


def test_personal_values_of_the_row_in_the_subject_are_warned(load) -> None:
    header = "fiscal_code,subject,markdown,nome,cognome,email"
    campaign = load(rows_csv(
        row(CF1, "TARI 2027 per Mario Rossi", MARKDOWN, "Mario", "Rossi", "m@x.it"),
        row(CF2, "TARI 2027: avviso di pagamento", MARKDOWN, "Mario", "Rossi", "m@x.it"),
        row(CF3, "TARI 2027: il saldo di Re", MARKDOWN, "Re", "Li", ""),  # too short to tell
        header=header,
    ))
    problems = [(p.row, p.column, p.code.value) for p in campaign.problems]
    assert problems == [(2, "cognome", "subject_personal_data"),
                        (2, "nome", "subject_personal_data")]
    assert campaign.valid_count == 3 and campaign.warning_count == 2


def test_every_error_of_a_row_is_reported_not_only_the_first(load) -> None:
    line = row("RSSMRA80A01H501X", "corto", "breve", '"12,50"', "123")
    found = codes_by_row(load(rows_csv(line, header=PAY)))[2]
    assert found == ["fiscal_code_checksum", "amount_not_cents", "notice_number_format",
                     "subject_too_short", "markdown_too_short"]


def test_problems_name_the_files_own_column_header(load) -> None:
    campaign = load(rows_csv(f"RSSMRA80A01H501X,12.50,{NOTICE}",
                             header="Codice Fiscale,Importo,Numero Avviso"),
                    template=f'subject = "{SUBJECT}"\nmarkdown = "{MARKDOWN}"')
    problems = campaign.problems
    assert [(p.row, p.column) for p in problems] == [(2, "Codice Fiscale"), (2, "Importo")]
    assert "RSSMRA*******01X" in problems[0].message  # masked, never the whole code
    assert "RSSMRA80A01H501X" not in problems[0].message


def test_a_fiscal_code_in_the_wrong_column_is_masked_in_messages(load) -> None:
    campaign = load(rows_csv(pay(CF2), header=PAY))
    [problem] = campaign.problems
    assert problem.code is ProblemCode.AMOUNT_FORMAT and CF2 not in problem.message


def test_messages_in_italian(load) -> None:
    campaign = load(rows_csv(row("RSSMRA80A01H501X")), language="it")
    assert "carattere di controllo" in campaign.problems[0].message
