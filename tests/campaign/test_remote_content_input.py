"""Remote content from the campaign: template sections, row columns, flags and IO's limits.

Each valid row that asks for remote content carries a ``RemoteContent`` (what the content
server will answer IO) next to its message, whose ``third_party_data`` flags say the same
thing. The attachment files themselves are judged in test_remote_content_attachments.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from campaign_helpers import CF1, CF2, CF3, MARKDOWN, SUBJECT, codes_by_row

from dispatcher.campaign import CampaignFileError, ProblemCode, Severity
from dispatcher.content.model import Precondition
from dispatcher.vocabulary import Language

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
REMOTE_SUBJECT = "Esito della sua pratica edilizia"
REMOTE_TEXT = ("La sua pratica edilizia è stata approvata dall'Ufficio Tecnico. Trova qui sotto "
               "i dettagli e le prossime scadenze.")
TEMPLATE = f'''
subject = "{SUBJECT}"
markdown = "{MARKDOWN}"

[defaults]
configuration_id = "{ULID}"
require_secure_channels = true

[remote]
subject = "Pratica {{pratica}}: esito disponibile"
markdown = """
Gentile {{nome}}, la pratica {{pratica}} è stata esaminata dall'Ufficio Tecnico del Comune.
L'esito completo e le prossime scadenze sono qui sotto.
"""

[remote.precondition]
title = "Dati riservati"
markdown = "Il messaggio contiene dati personali di {{nome}}: proseguire?"
'''


def csv(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def test_the_template_section_gives_every_row_its_rendered_remote_content(load) -> None:
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,ED-1,PRATICA-1", f"{CF2},Luca,ED-2,PRATICA-2"),
                    template=TEMPLATE)
    assert not campaign.has_errors and campaign.warning_count == 0
    first, second = campaign.rows()
    assert first.remote is not None and second.remote is not None
    assert first.remote.third_party_id == "PRATICA-1"
    assert first.remote.subject == "Pratica ED-1: esito disponibile"
    assert first.remote.markdown is not None and first.remote.markdown.startswith(
        "Gentile Anna, la pratica ED-1 è stata esaminata")
    assert first.remote.precondition == Precondition(
        "Dati riservati", "Il messaggio contiene dati personali di Anna: proseguire?")
    assert second.remote.subject == "Pratica ED-2: esito disponibile"
    assert first.remote.attachments == ()
    # the message says what the row supplies, without the office filling in the flags
    third_party = first.message.body()["content"]["third_party_data"]  # type: ignore[union-attr]
    assert third_party == {"id": "PRATICA-1", "configuration_id": ULID,
                           "has_remote_content": True, "has_precondition": "ALWAYS"}


def test_italian_headers_fill_the_remote_fields_row_by_row(load) -> None:
    header = ("Codice Fiscale,Oggetto,Testo,ID Contenuto Remoto,ID Configurazione,Oggetto Remoto,"
              "Testo Remoto,Titolo Precondizione,Testo Precondizione,Precondizione,Canali Sicuri")
    campaign = load(csv(header, ",".join((CF1, SUBJECT, MARKDOWN, "P-1", ULID, REMOTE_SUBJECT,
                                          REMOTE_TEXT, "Attenzione", "Contenuto riservato.",
                                          "once", "sì"))))
    assert codes_by_row(campaign) == {}
    (row,) = campaign.rows()
    assert row.remote is not None
    assert (row.remote.subject, row.remote.markdown) == (REMOTE_SUBJECT, REMOTE_TEXT)
    assert row.remote.precondition == Precondition("Attenzione", "Contenuto riservato.")
    body = row.message.body()["content"]  # type: ignore[union-attr]
    assert body["third_party_data"]["has_precondition"] == "ONCE"  # the row's own choice
    assert body["third_party_data"]["has_remote_content"] is True
    assert campaign.column_title("remote_subject") == "Oggetto Remoto (remote_subject)"


def test_a_campaign_without_remote_content_keeps_its_payload_and_has_no_remote(load) -> None:
    campaign = load(csv("fiscal_code,subject,markdown,third_party_id,configuration_id,"
                        "has_remote_content", f"{CF1},{SUBJECT},{MARKDOWN},P-1,{ULID},true"))
    assert codes_by_row(campaign) == {}  # the ente's own server serves it: not our business
    (row,) = campaign.rows()
    assert row.remote is None
    assert row.message.body()["content"]["third_party_data"] == {  # type: ignore[union-attr]
        "id": "P-1", "configuration_id": ULID, "has_remote_content": True}


REMOTE_HEADER = ("fiscal_code,subject,markdown,third_party_id,configuration_id,remote_subject,"
                 "remote_markdown,require_secure_channels")


def remote_row(code: str = CF1, subject: str = REMOTE_SUBJECT, text: str = REMOTE_TEXT,
               tp_id: str = "P-1") -> str:
    return ",".join((code, SUBJECT, MARKDOWN, tp_id, ULID, subject, text, "true"))


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        # 5 emoji are 5 characters but 10 UTF-16 units: enough for IO
        ("😀" * 5, REMOTE_TEXT, []),
        ("x" * 9, REMOTE_TEXT, ["remote_subject_too_short"]),
        # 119 letters and an emoji: 120 characters, 121 units
        ("x" * 119 + "😀", REMOTE_TEXT, ["remote_subject_too_long"]),
        ("x" * 120, REMOTE_TEXT, []),
        (REMOTE_SUBJECT, "y" * 78 + "😀", []),  # 79 characters, 80 units
        (REMOTE_SUBJECT, "y" * 79, ["remote_markdown_too_short"]),
        (REMOTE_SUBJECT, "y" * 9999 + "😀", ["remote_markdown_too_long"]),
        (REMOTE_SUBJECT, "y" * 10000, []),
    ],
    ids=["emoji-10", "9", "emoji-121", "120", "emoji-80", "79", "emoji-10001", "10000"],
)
def test_remote_texts_are_measured_in_utf16_units_as_io_does(
        load, subject: str, text: str, expected: list[str]) -> None:
    campaign = load(csv(REMOTE_HEADER, remote_row(subject=subject, text=text)))
    assert codes_by_row(campaign).get(2, []) == expected


def test_a_length_problem_says_the_length_in_utf16_units(load) -> None:
    campaign = load(csv(REMOTE_HEADER, remote_row(subject="x" * 119 + "😀")))
    (problem,) = campaign.problems
    assert problem.column == "remote_subject"
    assert problem.message.startswith("the remote subject is 121 characters long, IO allows "
                                      "at most 120")


def test_a_template_remote_subject_too_long_for_every_row_is_said_once(load) -> None:
    template = TEMPLATE.replace("Pratica {pratica}: esito disponibile", "P" * 121)
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,ED-1,P-1", f"{CF2},Luca,ED-2,P-2"), template=template)
    assert campaign.invalid_count == 2
    (problem,) = campaign.file_problems
    assert (problem.code, problem.rows_affected) == (ProblemCode.REMOTE_SUBJECT_TOO_LONG, 2)
    assert "every row that uses it" in problem.message
    assert campaign.problems == []  # not repeated per row


def test_a_placeholder_of_the_remote_text_must_name_a_column(load) -> None:
    template = TEMPLATE.replace("la pratica {pratica} è", "la pratica {numero_pratica} è")
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,ED-1,P-1"), template=template)
    (problem,) = campaign.file_problems
    assert problem.code is ProblemCode.PLACEHOLDER_MISSING
    assert problem.column == "numero_pratica" and campaign.invalid_count == 1


def test_an_empty_placeholder_cell_is_its_own_problem_not_a_missing_text(load) -> None:
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,,P-1"), template=TEMPLATE)
    assert codes_by_row(campaign) == {2: ["placeholder_empty"]}


def test_rows_without_an_id_cannot_take_the_templates_remote_content(load) -> None:
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,ED-1,", f"{CF2},Luca,ED-2,P-2"), template=TEMPLATE)
    assert codes_by_row(campaign) == {2: ["third_party_id_missing"]}


@pytest.mark.parametrize(
    ("columns", "values", "expected"),
    [
        (("remote_subject",), (REMOTE_SUBJECT,), ["remote_details_incomplete"]),
        (("remote_markdown",), (REMOTE_TEXT,), ["remote_details_incomplete"]),
        (("precondition_title",), ("Attenzione",), ["precondition_incomplete"]),
        (("precondition_markdown",), ("Testo della precondizione",),
         ["precondition_incomplete"]),
        (("precondition_title", "precondition_markdown"), ("Attenzione", "Testo"), []),
    ],
)
def test_what_io_needs_in_pairs(load, columns: tuple[str, ...], values: tuple[str, ...],
                                expected: list[str]) -> None:
    header = "fiscal_code,subject,markdown,third_party_id,configuration_id,canali_sicuri,"
    campaign = load(csv(header + ",".join(columns),
                        ",".join((CF1, SUBJECT, MARKDOWN, "P-1", ULID, "sì", *values))))
    assert codes_by_row(campaign).get(2, []) == expected


def test_an_incomplete_pair_names_the_empty_column(load) -> None:
    campaign = load(csv("fiscal_code,subject,markdown,third_party_id,configuration_id,"
                        "titolo_precondizione,testo_precondizione",
                        f"{CF1},{SUBJECT},{MARKDOWN},P-1,{ULID},Attenzione,"))
    (problem,) = campaign.problems
    assert problem.column == "testo_precondizione"
    assert problem.message.endswith("but testo_precondizione (precondition_markdown) is empty")


FLAGS = ("fiscal_code,subject,markdown,third_party_id,configuration_id,require_secure_channels,"
         "remote_subject,remote_markdown,titolo_precondizione,testo_precondizione,"
         "has_remote_content,has_precondition")


def flags_row(code: str, tp_id: str, remote: bool, precondition: bool, has_remote: str,
              has_precondition: str) -> str:
    texts = (REMOTE_SUBJECT, REMOTE_TEXT) if remote else ("", "")
    pre = ("Attenzione", "Contenuto riservato") if precondition else ("", "")
    return ",".join((code, SUBJECT, MARKDOWN, tp_id, ULID, "true", *texts, *pre, has_remote,
                     has_precondition))


@pytest.mark.parametrize(
    ("remote", "precondition", "has_remote", "has_precondition", "expected", "flags"),
    [
        (True, False, "", "", [], {"has_remote_content": True}),
        (True, False, "true", "", [], {"has_remote_content": True}),
        (True, False, "false", "", ["remote_content_not_declared"], None),
        (False, False, "true", "", ["remote_content_missing"], None),
        (True, True, "", "", [], {"has_remote_content": True, "has_precondition": "ALWAYS"}),
        (True, True, "", "once", [],
         {"has_remote_content": True, "has_precondition": "ONCE"}),
        (True, True, "", "never", ["precondition_not_declared"], None),
        (True, False, "", "always", ["precondition_missing"], None),
        (True, False, "", "never", [], {"has_remote_content": True,
                                       "has_precondition": "NEVER"}),
    ],
)
def test_flags_follow_what_the_row_supplies_and_contradictions_are_errors(
        load, remote: bool, precondition: bool, has_remote: str, has_precondition: str,
        expected: list[str], flags: dict[str, object] | None) -> None:
    # row 3 supplies remote content: this campaign is served by dispatcher's content server
    campaign = load(csv(FLAGS, flags_row(CF1, "P-1", remote, precondition, has_remote,
                                         has_precondition),
                        flags_row(CF2, "P-2", True, False, "", "")))
    assert codes_by_row(campaign).get(2, []) == expected
    row = next(campaign.rows())
    if flags is None:
        assert row.message is None and row.remote is None
        return
    third_party = row.message.body()["content"]["third_party_data"]  # type: ignore[union-attr]
    assert {k: v for k, v in third_party.items() if k.startswith("has_")} == flags


def test_a_contradiction_says_why_in_both_languages(load) -> None:
    line = flags_row(CF1, "P-1", False, False, "true", "")
    english = load(csv(FLAGS, line)).problems[0]
    italian = load(csv(FLAGS, line), language=Language.IT).problems[0]
    assert english.code is italian.code is ProblemCode.REMOTE_CONTENT_MISSING
    assert english.column == "has_remote_content"
    assert "no remote subject and text" in english.message
    assert "non ha oggetto e testo remoti" in italian.message


def test_remote_content_without_secure_channels_is_a_warning_said_once(load) -> None:
    template = TEMPLATE.replace("require_secure_channels = true\n", "")
    campaign = load(csv("codice_fiscale,nome,pratica,id_contenuto_remoto",
                        f"{CF1},Anna,ED-1,P-1", f"{CF2},Luca,ED-2,P-2",
                        f"{CF3},Pia,ED-3,P-3"), template=template)
    assert not campaign.has_errors and campaign.valid_count == 3
    (problem,) = campaign.file_problems
    assert (problem.code, problem.severity, problem.rows_affected) == (
        ProblemCode.REMOTE_NOT_SECURE, Severity.WARNING, 3)
    assert campaign.warnings_by_code() == {ProblemCode.REMOTE_NOT_SECURE: 3}
    assert campaign.problems == []  # the whole campaign's choice: not repeated per row
    assert [p.code for p in next(campaign.rows()).problems] == [ProblemCode.REMOTE_NOT_SECURE]


def test_a_secure_channels_column_is_judged_row_by_row(load) -> None:
    header = REMOTE_HEADER
    rows = [remote_row(CF1, tp_id="P-1"), remote_row(CF2, tp_id="P-2").replace(",true", ",no")]
    campaign = load(csv(header, *rows))
    assert codes_by_row(campaign) == {3: ["remote_not_secure"]}
    assert campaign.file_problems == ()


@pytest.mark.parametrize(("extra", "secure", "expected"),
                         [("x" * 54, "no", []), ("x" * 55, "no", ["courtesy_text_long"]),
                          ("😀" * 28, "no", ["courtesy_text_long"]),  # 28 characters, 56 units
                          ("x" * 55, "true", [])],
                         ids=["134", "135", "emoji", "secure"])
def test_a_courtesy_text_longer_than_the_email_shows_is_a_warning(
        load, extra: str, secure: str, expected: list[str]) -> None:
    courtesy = "c" * 80 + extra  # the e-mail forward shows 134 units of it
    line = ",".join((CF1, SUBJECT, courtesy, "P-1", ULID, REMOTE_SUBJECT, REMOTE_TEXT, secure))
    campaign = load(csv(REMOTE_HEADER, line))
    found = [code for code in codes_by_row(campaign).get(2, []) if code != "remote_not_secure"]
    assert found == expected
    assert not campaign.has_errors


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ('[remote]\nsubject = "Oggetto remoto lungo"\n', "remote.markdown is missing"),
        ('[remote]\ncolour = "blu"\n', "unknown key(s) colour"),
        ('[remote]\n[remote.precondition]\ntitle = "Attenzione"\n',
         "needs both a title and a markdown text"),
        ("[remote]\n", "[remote] is empty"),
        ('[[remote.attachments]]\nfile = "a.pdf"\nname = "Avviso.doc"\n',
         "does not end in .pdf"),
        ('[[remote.attachments]]\nfile = "a.pdf"\n[[remote.attachments]]\nfile = "b/a.pdf"\n',
         "id 'a' is also the id of 'a.pdf'"),
        ('[[remote.attachments]]\nfile = "a.pdf"\nid = "due parole"\n', "part of a URL"),
        ('[[remote.attachments]]\nname = "a.pdf"\n', "file = \"...\" (a PDF path) is missing"),
    ],
    ids=["half", "unknown", "precondition", "empty", "name", "ids", "id", "file"],
)
def test_mistakes_in_the_remote_section_stop_the_campaign_naming_the_template(
        load, section: str, reason: str) -> None:
    template = f'subject = "{SUBJECT}"\nmarkdown = "{MARKDOWN}"\n{section}'
    with pytest.raises(CampaignFileError) as error:
        load(csv("fiscal_code,third_party_id", f"{CF1},P-1"), template=template)
    assert reason in str(error.value)
    assert str(error.value).startswith(str(Path(error.value.path)))
    assert Path(error.value.path).name == "t.toml"
