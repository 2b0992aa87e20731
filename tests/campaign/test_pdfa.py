"""The PDF/A pre-flight of attachments: each reason to refuse a file, said so a person can act.

The broken files are made in tmp_path by sample_data/make_sample_pdfa.py, each one mistake
away from the committed sample, so every test below names the one problem it expects.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path
from types import ModuleType

import pikepdf
import pytest

from dispatcher.campaign.pdfa import (
    PdfChecker,
    PdfProblemCode,
    check_pdf,
    human_size,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE = SAMPLES / "avviso_tari.pdf"
Code = PdfProblemCode


def test_the_committed_sample_is_an_acceptable_pdfa_2b() -> None:
    check = check_pdf(SAMPLE, max_bytes=1_000_000)
    assert check.problems == ()
    assert check.ok and check.pdfa == "2B"
    assert check.sha256 == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    assert check.size == SAMPLE.stat().st_size < 20_000  # small enough to commit
    with pikepdf.open(SAMPLE) as pdf:
        assert len(pdf.pages) == 1


def test_the_script_rebuilds_the_committed_sample_byte_for_byte(maker: ModuleType) -> None:
    pytest.importorskip("fontTools", reason="rebuilding the sample needs fontTools (dev tool)")
    pytest.importorskip("PIL", reason="rebuilding the sample needs Pillow (dev tool)")
    if not any(Path(place).is_file() for place in maker.FONT_PLACES):
        pytest.skip("DejaVuSans.ttf is not installed (Debian: fonts-dejavu-core)")
    first, second = maker.build_sample(), maker.build_sample()
    assert first == second == SAMPLE.read_bytes()


@pytest.mark.parametrize(("variant", "code", "english", "italian"), [
    ("no_xmp.pdf", Code.PDFA_NOT_DECLARED, "no XMP metadata", "mancano i metadati XMP"),
    ("unknown_level.pdf", Code.PDFA_UNKNOWN_LEVEL, "conformance 'X'", "conformità 'X'"),
    ("no_output_intent.pdf", Code.OUTPUT_INTENT, "no output intent", "output intent"),
    ("font_not_embedded.pdf", Code.FONT_NOT_EMBEDDED, "Helvetica (page 1)",
     "Helvetica (pagina 1)"),
    ("font_in_form.pdf", Code.FONT_NOT_EMBEDDED, "Helvetica (page 1)", "Helvetica"),
    ("javascript.pdf", Code.JAVASCRIPT, "when the document opens",
     "all'apertura del documento"),
    ("launch.pdf", Code.LAUNCH_ACTION, "a link or field on page 1", "pagina 1"),
    ("password.pdf", Code.ENCRYPTED, "protected by a password", "protetto da password"),
    ("restricted.pdf", Code.ENCRYPTED, "forbids encryption", "cifratura"),
    ("pdfa1_transparent.pdf", Code.TRANSPARENCY, "PDF/A-1 allows no transparency",
     "trasparenze"),
    ("pdfa1_embedded.pdf", Code.EMBEDDED_FILES, "ricevuta.txt", "ricevuta.txt"),
    ("damaged.pdf", Code.DAMAGED, "does not open", "non si apre"),
    ("not_a_pdf.pdf", Code.NOT_PDF, "starts with '<!DOCTYP', not %PDF", "non con %PDF"),
])
def test_each_broken_file_is_refused_with_its_one_reason_in_both_languages(
        variants: dict[str, Path], variant: str, code: Code, english: str,
        italian: str) -> None:
    check = check_pdf(variants[variant], max_bytes=1_000_000)
    assert [problem.code for problem in check.problems] == [code]
    problem = check.problems[0]
    assert english in problem.english
    assert italian in problem.italian
    assert problem.text("it") == problem.italian and problem.text("en") == problem.english
    assert str(variants[variant].parent) not in problem.english  # the caller names the file


def test_the_declared_level_is_reported_even_when_the_file_breaks_it(
        variants: dict[str, Path]) -> None:
    assert check_pdf(variants["font_not_embedded.pdf"]).pdfa == "2B"
    assert check_pdf(variants["pdfa1_transparent.pdf"]).pdfa == "1B"


def test_a_missing_file_and_a_folder_are_problems_not_exceptions(tmp_path: Path) -> None:
    missing = check_pdf(tmp_path / "avviso.pdf", max_bytes=1000)
    assert [p.code for p in missing.problems] == [Code.MISSING]
    assert (missing.sha256, missing.size) == (None, None)
    folder = tmp_path / "cartella.pdf"
    folder.mkdir()
    (problem,) = check_pdf(folder, max_bytes=1000).problems
    assert problem.code == Code.UNREADABLE
    assert "it is a folder" in problem.english and "è una cartella" in problem.italian


def test_a_file_over_the_cap_says_both_sizes_readably() -> None:
    size = SAMPLE.stat().st_size
    check = check_pdf(SAMPLE, max_bytes=2000)
    assert [p.code for p in check.problems] == [Code.TOO_LARGE]
    english, italian = check.problems[0].english, check.problems[0].italian
    assert f"{human_size(size, 'en')} ({size:,} bytes)" in english
    assert "over the limit of 2 kB" in english
    assert human_size(size, "it").replace(".", ",") in italian and "2 kB" in italian
    assert human_size(8_283, "en") == "8.3 kB" and human_size(8_283, "it") == "8,3 kB"
    assert human_size(12_400_000, "en") == "12.4 MB"
    assert check_pdf(SAMPLE, max_bytes=size).ok  # the cap itself is allowed


def test_the_name_the_app_shows_must_end_in_pdf_and_a_fiscal_code_in_it_is_masked(
        tmp_path: Path) -> None:
    renamed = check_pdf(SAMPLE, name="RSSMRA80A01H501U avviso.docx")
    assert [p.code for p in renamed.problems] == [Code.NAME]
    assert "RSSMRA80A01H501U" not in renamed.problems[0].english
    assert "RSSMRA" in renamed.problems[0].english
    assert check_pdf(SAMPLE, name="Avviso TARI.PDF").ok
    copy = tmp_path / "avviso"
    shutil.copyfile(SAMPLE, copy)
    assert [p.code for p in check_pdf(copy).problems] == [Code.NAME]  # default: the file name
    assert check_pdf(copy, name="avviso.pdf").ok  # attached under another name


def test_a_checker_reads_a_file_named_by_every_row_once(tmp_path: Path) -> None:
    checker = PdfChecker(max_bytes=1_000_000)
    verdicts = {checker.check(SAMPLE) for _ in range(5000)}
    assert len(verdicts) == 1 and checker.inspected == 1
    copy = tmp_path / "stessa_copia.pdf"
    shutil.copyfile(SAMPLE, copy)
    assert checker.check(copy).sha256 == next(iter(verdicts)).sha256
    assert checker.inspected == 1  # same content at another path: judged by its hash


def test_a_checker_notices_a_file_changed_on_disk(tmp_path: Path,
                                                  variants: dict[str, Path]) -> None:
    path = tmp_path / "allegato.pdf"
    shutil.copyfile(SAMPLE, path)
    checker = PdfChecker(max_bytes=1_000_000)
    assert checker.check(path).ok
    path.write_bytes(variants["javascript.pdf"].read_bytes())
    assert [p.code for p in checker.check(path).problems] == [Code.JAVASCRIPT]
    assert checker.inspected == 2


def _with_pages(fonts_by_page: list[list[str]]) -> bytes:
    """The sample with extra pages, each using the named standard (not embedded) fonts."""
    with pikepdf.open(SAMPLE) as pdf:
        for names in fonts_by_page:
            page = pdf.add_blank_page()
            page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary({
                f"/F{index}": pdf.make_indirect(pikepdf.Dictionary(
                    Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name("/" + name)))
                for index, name in enumerate(names)}))
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()


def test_fonts_not_embedded_are_named_with_their_page_the_first_three_only(
        tmp_path: Path) -> None:
    path = tmp_path / "molte_pagine.pdf"
    path.write_bytes(_with_pages([[], [], ["Helvetica", "Times-Roman"],
                                  ["Courier", "Symbol", "Helvetica"]]))
    (problem,) = check_pdf(path).problems
    assert problem.code == Code.FONT_NOT_EMBEDDED
    assert "Helvetica (page 4), Times-Roman (page 4), Courier (page 5) and 2 more" \
        in problem.english
    assert "e altri 2" in problem.italian


def _with_attachment(data: bytes) -> bytes:
    with pikepdf.open(SAMPLE) as pdf:
        pdf.attachments["allegato.pdf"] = pikepdf.AttachedFileSpec(pdf, data)
        buffer = io.BytesIO()
        pdf.save(buffer)
        return buffer.getvalue()


def test_pdfa_2_may_embed_only_pdfa_files(tmp_path: Path, variants: dict[str, Path]) -> None:
    inner_pdfa = tmp_path / "con_pdfa.pdf"
    inner_pdfa.write_bytes(_with_attachment(SAMPLE.read_bytes()))
    assert check_pdf(inner_pdfa).ok
    inner_plain = tmp_path / "con_pdf.pdf"
    inner_plain.write_bytes(_with_attachment(variants["no_xmp.pdf"].read_bytes()))
    (problem,) = check_pdf(inner_plain).problems
    assert problem.code == Code.EMBEDDED_FILES
    assert "PDF/A-2 allows only PDF/A files inside" in problem.english
    assert "allegato.pdf" in problem.english


def _helvetica(pdf: pikepdf.Pdf) -> pikepdf.Dictionary:
    return pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font,
                                                Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))


def _inherited_font(pdf: pikepdf.Pdf) -> None:
    """Resources on the page tree's root, none on the page: the page inherits them."""
    page = pdf.pages[0].obj
    resources = page.Resources
    resources.Font.F2 = _helvetica(pdf)
    del page["/Resources"]
    pdf.Root.Pages.Resources = resources


def _appearance_font(pdf: pikepdf.Pdf) -> None:
    """A stamp whose appearance (what the viewer draws) uses a font left out."""
    appearance = pdf.make_stream(b"BT /Helv 9 Tf (Mario) Tj ET", Type=pikepdf.Name.XObject,
                                 Subtype=pikepdf.Name.Form, BBox=pikepdf.Array([0, 0, 90, 14]),
                                 Resources=pikepdf.Dictionary(
                                     Font=pikepdf.Dictionary(Helv=_helvetica(pdf))))
    widget = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Stamp,
                                Rect=pikepdf.Array([56, 56, 146, 70]),
                                AP=pikepdf.Dictionary(N=appearance))
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(widget)])


def _bookmark_script(pdf: pikepdf.Pdf) -> None:
    item = pdf.make_indirect(pikepdf.Dictionary(
        Title="Paga", A=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS="app.alert(1)")))
    pdf.Root.Outlines = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Outlines, First=item, Last=item, Count=1))
    item.Parent = pdf.Root.Outlines


def _chained_launch(pdf: pikepdf.Pdf) -> None:
    """A harmless go-to on opening, followed by a launch through /Next."""
    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="cmd.exe")
    pdf.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.GoTo, D=pikepdf.Array([pdf.pages[0].obj, pikepdf.Name.Fit]),
        Next=pdf.make_indirect(launch))


@pytest.mark.parametrize(("change", "code", "english"), [
    (_inherited_font, Code.FONT_NOT_EMBEDDED, "Helvetica (page 1)"),
    (_appearance_font, Code.FONT_NOT_EMBEDDED, "Helvetica (page 1)"),
    (_bookmark_script, Code.JAVASCRIPT, "a bookmark"),
    (_chained_launch, Code.LAUNCH_ACTION, "when the document opens"),
])
def test_hidden_places_are_searched_too(tmp_path: Path, change, code: Code,
                                        english: str) -> None:
    with pikepdf.open(SAMPLE) as pdf:
        change(pdf)
        pdf.save(tmp_path / "nascosto.pdf")
    (problem,) = check_pdf(tmp_path / "nascosto.pdf").problems
    assert problem.code == code and english in problem.english


_RDF = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">{}</rdf:RDF></x:xmpmeta>')
_PDFAID = '<rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"{}'


@pytest.mark.parametrize(("xmp", "level", "code"), [
    (_RDF.format(_PDFAID.format(' pdfaid:part="3" pdfaid:conformance="u"/>')), "3U", None),
    (_RDF.format(_PDFAID.format("><pdfaid:part>4</pdfaid:part>"
                                "<pdfaid:rev>2020</pdfaid:rev></rdf:Description>")), "4", None),
    (_RDF.format(_PDFAID.format("><pdfaid:part>1</pdfaid:part>"
                                "<pdfaid:conformance>U</pdfaid:conformance></rdf:Description>")),
     None, Code.PDFA_UNKNOWN_LEVEL),  # PDF/A-1 has no level U
    (_RDF.format('<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                 "<dc:format>application/pdf</dc:format></rdf:Description>"),
     None, Code.PDFA_NOT_DECLARED),
    ("<x:xmpmeta <<< not xml", None, Code.PDFA_NOT_DECLARED),
])
def test_the_declaration_is_read_as_xmp_writes_it(tmp_path: Path, xmp: str, level: str | None,
                                                  code: Code | None) -> None:
    with pikepdf.open(SAMPLE) as pdf:
        pdf.Root.Metadata = pdf.make_stream(xmp.encode(), Type=pikepdf.Name.Metadata,
                                            Subtype=pikepdf.Name.XML)
        pdf.save(tmp_path / "xmp.pdf", fix_metadata_version=False)
    check = check_pdf(tmp_path / "xmp.pdf")
    assert check.pdfa == level
    assert [p.code for p in check.problems] == ([code] if code else [])
