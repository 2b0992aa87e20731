"""Attachments named by a campaign: each file judged once, each problem on its row, the typed
attachments of a valid row (ids, URLs, hashes), conversion to PDF/A and an external validator.

The PDFs are the committed sample (sample_data/avviso_tari.pdf, a PDF/A-2b) and its broken
variants, written into tmp_path by sample_data/make_sample_pdfa.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path
from types import ModuleType

import pytest
from campaign_helpers import CF1, CF2, CF3, MARKDOWN, SUBJECT, codes_by_row
from typer.testing import CliRunner

from dispatcher.campaign import ProblemCode, Severity
from dispatcher.campaign.attachments import parse_size, split_paths
from dispatcher.cli import app
from dispatcher.vocabulary import Language

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE = SAMPLES / "avviso_tari.pdf"
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
HEADER = ("fiscal_code,subject,markdown,third_party_id,configuration_id,feature_level_type,"
          "require_secure_channels,allegati_file")


@pytest.fixture
def pdfs(tmp_path: Path, maker: ModuleType) -> Path:
    """tmp_path with the good sample (avviso.pdf, referti/esito.pdf) and every variant."""
    maker.write_variants(tmp_path)
    (tmp_path / "referti.pdf").mkdir()  # a folder whose name looks like a file
    shutil.copy(SAMPLE, tmp_path / "avviso.pdf")
    (tmp_path / "referti").mkdir()
    shutil.copy(SAMPLE, tmp_path / "referti" / "esito.pdf")
    return tmp_path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def row(files: str, code: str = CF1, tp_id: str = "P-1", level: str = "ADVANCED") -> str:
    return ",".join((code, SUBJECT, MARKDOWN, tp_id, ULID, level, "true", f'"{files}"'))


def csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join((header, *rows)) + "\n"


def test_a_valid_row_carries_its_attachments_with_ids_urls_hashes_and_sources(
        load, pdfs: Path) -> None:
    campaign = load(csv(row("avviso.pdf; referti/esito.pdf")))
    assert codes_by_row(campaign) == {}
    (valid,) = campaign.rows()
    assert valid.remote is not None and valid.remote.third_party_id == "P-1"
    first, second = valid.remote.attachments
    assert (first.id, first.name, first.url) == ("avviso", "avviso.pdf", "attachments/avviso")
    assert (second.id, second.name, second.url) == ("esito", "esito.pdf", "attachments/esito")
    assert first.sha256 == second.sha256 == sha256(SAMPLE)
    assert first.size == SAMPLE.stat().st_size
    assert first.source == pdfs / "avviso.pdf" and second.source == pdfs / "referti" / "esito.pdf"
    assert (first.content_type, first.category) == ("application/pdf", "DOCUMENT")
    assert valid.remote.subject is None and valid.remote.precondition is None
    third_party = valid.message.body()["content"]["third_party_data"]  # type: ignore[union-attr]
    assert third_party["has_attachments"] is True and "has_remote_content" not in third_party


def test_several_files_in_one_cell_as_an_office_types_them(pdfs: Path) -> None:
    assert split_paths("a.pdf; b.pdf|c.pdf\nd.pdf\r\n ;") == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    assert split_paths(None) == [] and split_paths("  ") == []


def test_a_windows_path_finds_the_file(load, pdfs: Path) -> None:
    (valid,) = load(csv(row("referti\\esito.pdf"))).rows()
    assert valid.remote is not None
    assert valid.remote.attachments[0].source == pdfs / "referti" / "esito.pdf"


def test_one_file_named_by_many_rows_is_read_and_inspected_once(load, pdfs: Path) -> None:
    from stdnum.it import codicefiscale

    codes = []
    for n in range(400):
        stem = f"RSSMRA80A01H{n:03d}"[:15]
        codes.append(stem + codicefiscale.calc_check_digit(stem))
    rows = [row("avviso.pdf", code=code, tp_id=f"P-{n}") for n, code in enumerate(codes)]
    campaign = load(csv(*rows))
    assert campaign.valid_count == 400 and not campaign.has_errors
    files = campaign.attachment_files
    assert files is not None and files.checker.inspected == 1
    hashes = {r.remote.attachments[0].sha256 for r in campaign.rows()}  # type: ignore[union-attr]
    assert hashes == {sha256(SAMPLE)}
    assert files.checker.inspected == 1  # building the rows read no file again


@pytest.mark.parametrize(
    ("files", "code", "words"),
    [
        ("assente.pdf", ProblemCode.ATTACHMENT_MISSING, "the file does not exist"),
        ("referti.pdf", ProblemCode.ATTACHMENT_MISSING, "it is a folder"),
        ("not_a_pdf.pdf", ProblemCode.ATTACHMENT_NOT_PDF, "not a PDF"),
        ("damaged.pdf", ProblemCode.ATTACHMENT_NOT_PDF, "damaged"),
        ("password.pdf", ProblemCode.ATTACHMENT_ENCRYPTED, "password"),
        ("restricted.pdf", ProblemCode.ATTACHMENT_ENCRYPTED, "encrypted"),
        ("no_xmp.pdf", ProblemCode.ATTACHMENT_NOT_PDFA, "declare no PDF/A level"),
        ("no_output_intent.pdf", ProblemCode.ATTACHMENT_NOT_PDFA, "PDF/A needs one"),
        ("font_not_embedded.pdf", ProblemCode.ATTACHMENT_NOT_PDFA, "fonts not embedded"),
        ("javascript.pdf", ProblemCode.ATTACHMENT_NOT_PDFA, "JavaScript"),
        ("launch.pdf", ProblemCode.ATTACHMENT_NOT_PDFA, "launch action"),
        ("avviso.pdf; referti/avviso.pdf", ProblemCode.ATTACHMENT_ID_DUPLICATE, "'avviso'"),
    ],
)
def test_each_problem_of_a_file_is_an_error_on_its_row_naming_the_file(
        load, pdfs: Path, files: str, code: ProblemCode, words: str) -> None:
    if "referti/avviso.pdf" in files:
        shutil.copy(SAMPLE, pdfs / "referti" / "avviso.pdf")
    campaign = load(csv(row("avviso.pdf", code=CF2, tp_id="P-2"), row(files)))
    assert codes_by_row(campaign) == {3: [code.value]}
    (problem,) = campaign.problems
    assert problem.column == "allegati_file" and problem.severity is Severity.ERROR
    assert words in problem.message
    if code is not ProblemCode.ATTACHMENT_ID_DUPLICATE:
        assert problem.message.startswith(f"attachment '{files}': ")
    assert [r.state for r in campaign.rows()] == ["valid", "invalid"]


def test_a_renamed_file_must_still_be_shown_with_a_pdf_name(load, pdfs: Path) -> None:
    shutil.copy(SAMPLE, pdfs / "avviso.txt")
    campaign = load(csv(row("avviso.txt")))
    assert codes_by_row(campaign) == {2: ["attachment_name"]}
    assert "does not end in .pdf" in campaign.problems[0].message


def test_two_files_with_different_problems_are_each_named(load, pdfs: Path) -> None:
    campaign = load(csv(row("assente.pdf|javascript.pdf|avviso.pdf")))
    assert codes_by_row(campaign) == {2: ["attachment_missing", "attachment_not_pdfa"]}


def test_the_size_cap_is_the_campaigns_choice(load, pdfs: Path) -> None:
    size = SAMPLE.stat().st_size
    assert codes_by_row(load(csv(row("avviso.pdf")))) == {}  # the default cap is 10 MB
    capped = load(csv(row("avviso.pdf")), max_attachment_bytes=size - 1)
    assert codes_by_row(capped) == {2: ["attachment_too_large"]}
    assert "over the limit of" in capped.problems[0].message
    assert codes_by_row(load(csv(row("avviso.pdf")), max_attachment_bytes=size)) == {}


@pytest.mark.parametrize(("text", "size"), [("10MB", 10_000_000), ("500kB", 500_000),
                                            ("1,5 MB", 1_500_000), ("2MiB", 2 * 1024 * 1024),
                                            ("8283", 8283)])
def test_sizes_read_as_an_operator_writes_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["dieci", "10 TB", "0", ""])
def test_a_size_that_is_not_one_says_so(text: str) -> None:
    with pytest.raises(ValueError, match=r"size|at least one byte"):
        parse_size(text)


def test_problems_speak_the_campaigns_language(load, pdfs: Path) -> None:
    campaign = load(csv(row("assente.pdf")), language=Language.IT)
    assert campaign.problems[0].message.startswith("allegato 'assente.pdf': il file non esiste")


def test_a_fiscal_code_in_a_file_name_is_masked(load, pdfs: Path) -> None:
    campaign = load(csv(row(f"referti/{CF3}.pdf")))
    message = campaign.problems[0].message
    assert CF3 not in message and CF3[:6] in message


def test_attachments_without_advanced_get_one_verdict(load, pdfs: Path) -> None:
    campaign = load(csv(row("avviso.pdf", level="STANDARD")))
    assert codes_by_row(campaign) == {2: ["attachments_need_advanced"]}
    assert campaign.problems[0].column == "allegati_file"


FLAG_HEADER = HEADER + ",has_attachments"


def test_files_and_a_false_flag_contradict_each_other(load, pdfs: Path) -> None:
    campaign = load(csv(row("avviso.pdf") + ",no", row("", code=CF2, tp_id="P-2") + ",sì",
                        row("", code=CF3, tp_id="P-3") + ",", header=FLAG_HEADER))
    assert codes_by_row(campaign) == {2: ["attachments_not_declared"],
                                      3: ["attachments_missing"]}
    assert [r.remote is None for r in campaign.rows()] == [True, True, True]


def test_a_flag_without_files_in_a_campaign_without_attachments_is_one_warning(load) -> None:
    header = "fiscal_code,subject,markdown,third_party_id,configuration_id,livello,allegati"
    lines = [",".join((code, SUBJECT, MARKDOWN, f"P-{n}", ULID, "ADVANCED", "sì"))
             for n, code in enumerate((CF1, CF2))]
    campaign = load(csv(*lines, header=header))
    assert campaign.valid_count == 2 and campaign.problems == []
    (problem,) = [p for p in campaign.file_problems if p.code != "remote_not_secure"]
    assert (problem.code, problem.severity, problem.rows_affected) == (
        ProblemCode.ATTACHMENTS_WITHOUT_FILES, Severity.WARNING, 2)
    assert problem.column == "has_attachments" and "content server" in problem.message


TEMPLATE = f'''
subject = "{SUBJECT}"
markdown = "{MARKDOWN}"

[defaults]
configuration_id = "{ULID}"
feature_level_type = "ADVANCED"
require_secure_channels = true

[[remote.attachments]]
file = "avviso.pdf"
name = "Informativa TARI 2027.pdf"
id = "informativa"
'''


OWN_FILES = "codice_fiscale,id_contenuto_remoto,allegati_file"


def test_campaign_wide_attachments_come_first_with_their_name_and_id(load, pdfs: Path) -> None:
    campaign = load(csv(f"{CF1},P-1,referti/esito.pdf", f"{CF2},P-2,", header=OWN_FILES),
                    template=TEMPLATE)
    assert codes_by_row(campaign) == {}
    first, second = campaign.rows()
    assert first.remote is not None and second.remote is not None
    assert [(a.id, a.name, a.url) for a in first.remote.attachments] == [
        ("informativa", "Informativa TARI 2027.pdf", "attachments/informativa"),
        ("esito", "esito.pdf", "attachments/esito")]
    assert [a.id for a in second.remote.attachments] == ["informativa"]
    assert first.remote.attachments[0].source == pdfs / "avviso.pdf"  # beside the template


def test_a_broken_campaign_wide_attachment_is_said_once_and_fails_every_row(
        load, pdfs: Path) -> None:
    template = TEMPLATE.replace('file = "avviso.pdf"', 'file = "no_output_intent.pdf"')
    campaign = load(csv(f"{CF1},P-1", f"{CF2},P-2", f"{CF3},P-3",
                        header="codice_fiscale,id_contenuto_remoto"), template=template)
    assert campaign.invalid_count == 3 and campaign.has_errors
    (problem,) = campaign.file_problems
    assert (problem.code, problem.rows_affected) == (ProblemCode.ATTACHMENT_NOT_PDFA, 3)
    assert problem.column == "no_output_intent.pdf"
    assert problem.message.startswith("attachment 'no_output_intent.pdf': ")
    assert problem.message.endswith("every row that uses it has this problem")
    assert campaign.problems == []  # not repeated per row...
    invalid = next(campaign.rows())
    assert [p.code for p in invalid.problems] == [ProblemCode.ATTACHMENT_NOT_PDFA]  # ...but told
    assert campaign.invalid_by_reason() == {ProblemCode.ATTACHMENT_NOT_PDFA: 3}


def test_a_rows_file_may_not_take_the_id_of_a_campaign_wide_one(load, pdfs: Path) -> None:
    shutil.copy(SAMPLE, pdfs / "informativa.pdf")
    campaign = load(csv(f"{CF1},P-1,informativa.pdf", header=OWN_FILES), template=TEMPLATE)
    assert codes_by_row(campaign) == {2: ["attachment_id_duplicate"]}


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed")
def test_convert_pdfa_registers_the_converted_copy(load, pdfs: Path) -> None:
    target = pdfs / "converted"
    campaign = load(csv(row("no_output_intent.pdf")), convert_pdfa=True, pdfa_dir=target)
    assert codes_by_row(campaign) == {}
    (valid,) = campaign.rows()
    (attachment,) = valid.remote.attachments  # type: ignore[union-attr]
    original = pdfs / "no_output_intent.pdf"
    assert attachment.source == target / f"{sha256(original)}.pdf"
    assert attachment.sha256 == sha256(attachment.source) != sha256(original)
    assert attachment.name == "no_output_intent.pdf"  # the citizen sees the office's name
    assert stat.S_IMODE(attachment.source.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    (note,) = campaign.notes
    assert note.startswith("no_output_intent.pdf: not a PDF/A, converted by Ghostscript to ")
    # a second validation reuses the copy instead of converting again
    before = attachment.source.stat().st_mtime_ns
    again = load(csv(row("no_output_intent.pdf")), convert_pdfa=True, pdfa_dir=target)
    assert next(again.rows()).remote.attachments[0].source.stat().st_mtime_ns == before  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (gs) is not installed")
def test_convert_pdfa_leaves_what_it_cannot_cure(load, pdfs: Path) -> None:
    campaign = load(csv(row("not_a_pdf.pdf")), convert_pdfa=True, pdfa_dir=pdfs / "c")
    assert codes_by_row(campaign) == {2: ["attachment_not_pdf"]}
    assert not (pdfs / "c").exists()


def test_convert_pdfa_without_ghostscript_stops_with_what_to_install(
        load, pdfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dispatcher.campaign import CampaignFileError

    monkeypatch.setenv("PATH", str(pdfs / "nothing-here"))
    with pytest.raises(CampaignFileError, match="apt install ghostscript"):
        load(csv(row("avviso.pdf")), convert_pdfa=True)


def _validator(folder: Path, verdict: str) -> str:
    script = folder / "fake-verapdf"
    script.write_text(f"#!/bin/sh\necho \"{verdict} $1\"\n"
                      f"[ \"{verdict}\" = PASS ] || exit 1\n", encoding="utf-8")
    script.chmod(0o700)
    return str(script)


def test_an_external_validator_judges_each_distinct_file_once(load, pdfs: Path) -> None:
    command = _validator(pdfs, "FAIL")
    campaign = load(csv(row("avviso.pdf"), row("avviso.pdf", code=CF2, tp_id="P-2")),
                    pdfa_validator=command)
    assert codes_by_row(campaign) == {2: ["attachment_validator"], 3: ["attachment_validator"]}
    assert "fake-verapdf refused the file: FAIL" in campaign.problems[0].message
    assert campaign.attachment_files is not None
    assert campaign.attachment_files.checker.inspected == 1
    passing = load(csv(row("avviso.pdf")), pdfa_validator=_validator(pdfs / "referti", "PASS"))
    assert codes_by_row(passing) == {}


def test_a_validator_that_does_not_exist_stops_the_campaign(load, pdfs: Path) -> None:
    from dispatcher.campaign import CampaignFileError

    with pytest.raises(CampaignFileError, match="not found"):
        load(csv(row("avviso.pdf")), pdfa_validator="verapdf-that-is-not-there --format text")


def test_validate_takes_the_attachment_flags(pdfs: Path) -> None:
    campaign = pdfs / "c.csv"
    campaign.write_text(csv(row("avviso.pdf")), encoding="utf-8")
    runner = CliRunner()
    size = SAMPLE.stat().st_size
    done = runner.invoke(app, ["validate", str(campaign), "--json", "--lang", "en",
                               "--max-attachment-size", f"{size - 1}"])
    assert done.exit_code == 2, done.output
    document = json.loads(done.stdout)
    assert document["invalid_by_reason"] == {"attachment_too_large": 1}
    assert document["problems"][0]["column_title"] == "allegati_file (attachments)"
    done = runner.invoke(app, ["validate", str(campaign), "--max-attachment-size", "tanto"])
    assert done.exit_code == 2 and "--max-attachment-size" in done.output
    assert "Traceback" not in done.output
    done = runner.invoke(app, ["validate", str(campaign), "--lang", "en",
                               "--pdfa-validator", _validator(pdfs, "FAIL")])
    assert done.exit_code == 2 and "attachment_validator" in done.output
    done = runner.invoke(app, ["validate", str(campaign), "--lang", "en",
                               "--pdfa-validator", "no-such-validator"])
    assert done.exit_code == 2 and "no-such-validator" in done.output
    assert "Traceback" not in done.output


def test_the_sample_remote_campaign_is_valid_and_attaches_the_sample_pdfa(load) -> None:
    from dispatcher.campaign import load_campaign

    campaign = load_campaign(SAMPLES / "referto_remoto.csv",
                             template=SAMPLES / "referto_remoto.toml")
    assert not campaign.has_errors and campaign.warning_count == 0
    rows = list(campaign.rows())
    assert all(r.remote is not None and r.remote.precondition is not None for r in rows)
    assert [len(r.remote.attachments) for r in rows] == [1, 0, 0]  # type: ignore[union-attr]
    attachment = rows[0].remote.attachments[0]  # type: ignore[union-attr]
    assert attachment.sha256 == sha256(SAMPLE) and attachment.source == SAMPLE


def test_an_upper_case_pdf_extension_is_shown_as_pdf() -> None:
    from dispatcher.campaign.attachments import display_name

    assert display_name("Referto 2027.PDF") == "Referto 2027.pdf"
    assert display_name("avviso.Pdf") == "avviso.pdf"
    assert display_name("avviso.pdf") == "avviso.pdf"
    assert display_name("lettera.docx") == "lettera.docx"  # the name check still refuses it
