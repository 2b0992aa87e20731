"""Campaign templates: placeholders, helpers, defaults, and refusing broken templates."""

from __future__ import annotations

import pytest
from campaign_helpers import CF1, CF2, CF3, FIXTURES, MARKDOWN, NOW, SUBJECT, codes_by_row, rows_csv

from dispatcher.campaign import CampaignFileError, CampaignOptions, load_campaign
from dispatcher.vocabulary import InputVerdict

BODY = "Gentile {nome}, questo è un testo abbastanza lungo da superare gli ottanta caratteri."


def toml(subject: str = "Avviso TARI per il 2027", markdown: str = BODY, extra: str = "") -> str:
    return f'subject = "{subject}"\nmarkdown = """\n{markdown}\n"""\n{extra}'


def test_helpers_format_money_and_dates_the_italian_way(load) -> None:
    markdown = ("Importo {importo|euro}; scadenza {scadenza|data} ({Scadenza|data_lunga}, "
                "ore {scadenza|ora}); {nome|maiuscolo} {nome|minuscolo} {NOME}.")
    campaign = load(
        rows_csv(f"{CF1},Mario,123456,301234567890123416,2027-03-01T09:05:00+01:00",
                 header="cf,nome,importo,numero_avviso,data_scadenza"),
        template=toml(markdown=markdown),
    )
    text = campaign.preview().message.body()["content"]["markdown"]  # type: ignore[union-attr]
    assert text == ("Importo € 1.234,56; scadenza 01/03/2027 (1 marzo 2027, ore 09:05); "
                    "MARIO mario Mario.")


def test_markdown_template_with_front_matter_keeps_io_cta_block() -> None:
    campaign = load_campaign(FIXTURES / "windows1252.csv",
                             template=FIXTURES / "template_tari.md",
                             options=CampaignOptions(now=NOW))
    content = campaign.preview().message.body()["content"]  # type: ignore[union-attr]
    assert content["markdown"].startswith("---\nit:\n  cta_1:")
    assert "Gentile Niccolò D’Angelo," in content["markdown"]
    # the .md template declares euros: 12550 in the file is € 12.550,00
    assert content["payment_data"]["amount"] == 1255000
    assert content["payment_data"]["payee"] == {"fiscal_code": "00123450587"}


def test_a_cell_overrides_the_template_and_an_empty_cell_falls_back(load) -> None:
    campaign = load(
        rows_csv(f"{CF1},Mario,Oggetto scritto nella riga", f"{CF2},Anna,",
                 header="fiscal_code,nome,oggetto"),
        template=toml(),
    )
    subjects = [r.message.body()["content"]["subject"] for r in campaign.rows()]  # type: ignore[index]
    assert subjects == ["Oggetto scritto nella riga", "Avviso TARI per il 2027"]


def test_placeholder_problems_are_row_problems(load) -> None:
    campaign = load(
        rows_csv(f"{CF1},Mario,2027-01-31", f"{CF2},,2027-01-31", f"{CF3},Anna,boh",
                 header="fiscal_code,nome,quando"),
        template=toml(markdown=BODY + " Appuntamento il {quando|data}. Sede: {sede}."),
    )
    found = codes_by_row(campaign)
    assert 2 not in found  # its only problem, the unknown {sede}, is said once for the file
    assert found[3] == ["placeholder_empty"]
    assert found[4] == ["placeholder_bad_value"]
    [missing] = campaign.file_problems
    assert (missing.code.value, missing.column, missing.rows_affected) == (
        "placeholder_missing", "sede", 3)
    assert "{sede}" in missing.message and campaign.invalid_count == 3


def test_a_placeholder_may_name_the_subject_column(load) -> None:
    """``titolo`` is an alias of subject: the text may quote it; it once crashed validation."""
    campaign = load(
        rows_csv(f"{CF1},Mario,Certificato di residenza", f"{CF2},Anna,",
                 header="fiscal_code,nome,titolo"),
        template=toml(subject="Documento: {titolo}",
                      markdown=BODY + " Documento: {titolo|maiuscolo}."),
    )
    first = campaign.preview().message.body()["content"]  # type: ignore[union-attr]
    assert first["subject"] == "Certificato di residenza"  # the cell wins over the template
    assert first["markdown"].endswith("Documento: CERTIFICATO DI RESIDENZA.")
    assert codes_by_row(campaign) == {3: ["placeholder_empty"]}
    assert campaign.problems[0].column == "titolo"


def test_missing_placeholder_does_not_matter_where_the_cell_wins(load) -> None:
    campaign = load(rows_csv(f"{CF1},Oggetto scritto nella riga",
                             header="fiscal_code,subject"),
                    template=toml(subject="Avviso per {nome}", markdown=MARKDOWN))
    assert campaign.valid_count == 1


def test_literal_braces(load) -> None:
    campaign = load(rows_csv(f"{CF1},Mario", header="fiscal_code,nome"),
                    template=toml(markdown=BODY + ' Dati: {{"a": 1}} e }}.'))
    text = campaign.preview().message.body()["content"]["markdown"]  # type: ignore[union-attr]
    assert text.endswith('Dati: {"a": 1} e }.')


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (toml(markdown="Ciao {{nome}}, " + MARKDOWN), "write {nome}, not {{nome}}"),
        (toml(markdown="Ciao {nome, " + MARKDOWN), "unmatched '{'"),
        (toml(markdown="Ciao nome}, " + MARKDOWN), "unmatched '}'"),
        (toml(markdown="Ciao {nome|grassetto} " + MARKDOWN), "unknown helper"),
        (toml(markdown="Ciao { } " + MARKDOWN), "empty placeholder"),
        (toml(extra="sender = 'x'"), "unknown key"),
        (toml(extra='amount_unit = "lire"'), "amount_unit"),
        ("subject = ", "not valid TOML"),
        (toml(extra="[defaults]\nfeature_level_type = 'PREMIUM'"), "default feature_level_type"),
        (toml(extra="[defaults]\ntime_to_live = 60"), "default time_to_live"),
        (toml(extra="[defaults]\npayee_cf = '00123450587'"), "neither an IO field"),
        (toml(extra="[defaults]\ncf = 'RSSMRA80A01H501U'"), "cannot have a default"),
        (toml(extra="[defaults]\nscadenza = 'domani'"), "default due_date"),
    ],
)
def test_broken_templates_are_refused_naming_the_template(load, template: str,
                                                          reason: str) -> None:
    with pytest.raises(CampaignFileError) as error:
        load(rows_csv(f"{CF1},Mario", header="fiscal_code,nome"), template=template)
    assert reason in str(error.value)
    assert "t.toml" in str(error.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("+++\nsubject = 'Avviso TARI 2027'\n" + MARKDOWN, "never closed"),
     ("+++\nmarkdown = 'x'\n+++\n" + MARKDOWN, "remove 'markdown'")],
)
def test_broken_markdown_templates(load, text: str, reason: str) -> None:
    with pytest.raises(CampaignFileError, match=reason):
        load(rows_csv(f"{CF1},{SUBJECT}", header="fiscal_code,subject"), template=text,
             template_name="t.md")


def test_template_that_is_not_utf8_or_missing(load, write) -> None:
    with pytest.raises(CampaignFileError, match="not UTF-8"):
        load(rows_csv(f"{CF1},Mario", header="fiscal_code,nome"),
             template=toml(markdown="Città " + BODY).encode("cp1252"))  # type: ignore[arg-type]
    path = write(rows_csv(f"{CF1},Mario", header="fiscal_code,nome"))
    with pytest.raises(CampaignFileError, match="cannot read the template"):
        load_campaign(path, template=path.parent / "nope.toml")


def test_typed_toml_defaults_and_option_overrides(load) -> None:
    template = toml(extra="amount_unit = 'euro'\n[defaults]\nscadenza = 2027-01-31\n"
                          "time_to_live = 7200\nnon_pagabile_dopo_scadenza = true\n"
                          "importo = '12,50'\nnumero_avviso = '301234567890123416'")
    campaign = load(rows_csv(f"{CF1},Mario", f"{CF2},Anna", header="fiscal_code,nome"),
                    template=template)
    payload = campaign.preview().message.body()
    assert payload["time_to_live"] == 7200  # type: ignore[index]
    assert payload["content"]["due_date"] == "2027-01-31T22:59:59.000Z"  # type: ignore[index]
    assert payload["content"]["payment_data"] == {  # type: ignore[index]
        "amount": 1250, "notice_number": "301234567890123416", "invalid_after_due_date": True}
    overridden = load(rows_csv(f"{CF1},Mario", header="fiscal_code,nome"), template=template,
                      amount_unit="cents", defaults={"importo": "999"})
    assert overridden.preview().message.body()["content"]["payment_data"]["amount"] == 999  # type: ignore[index]


def test_row_values_win_over_defaults(load) -> None:
    template = toml(extra="[defaults]\nfeature_level_type = 'STANDARD'")
    campaign = load(rows_csv(f"{CF1},Mario,ADVANCED", f"{CF2},Anna,",
                             header="fiscal_code,nome,feature_level_type"), template=template)
    levels = [r.message.body()["feature_level_type"] for r in campaign.rows()]  # type: ignore[index]
    assert levels == ["ADVANCED", "STANDARD"]


def test_html_written_in_the_template_is_one_note_not_a_warning_per_row(load) -> None:
    campaign = load(rows_csv(f"{CF1},Mario", f"{CF2},Anna", header="fiscal_code,nome"),
                    template=toml(markdown=BODY + " <br> fine"))
    assert campaign.warning_count == 0
    assert any("raw HTML (<br>)" in note for note in campaign.notes)
    html_value = load(rows_csv(f"{CF1},<i>Mario</i>", header="fiscal_code,nome"),
                      template=toml())
    assert [p.code.value for p in html_value.problems] == ["markdown_html"]


def test_personal_data_in_a_template_subject_is_warned_on_each_row(load) -> None:
    campaign = load(rows_csv(f"{CF1},Mario", f"{CF2},Anna", header="fiscal_code,nome"),
                    template=toml(subject="Avviso TARI per {nome}"))
    assert campaign.warnings_by_code() == {"subject_personal_data": 2}
    assert all(r.state is InputVerdict.VALID for r in campaign.rows())
