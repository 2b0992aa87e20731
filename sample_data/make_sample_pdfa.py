"""Write the sample PDF/A-2b attachment (a TARI notice) and the broken variants tests need.

Why a script of ours and no Ghostscript: the demo and the tests need a PDF/A that anyone can
rebuild from the repository and review, byte for byte the same on every run. The document is
assembled with pikepdf: one A4 page of Italian text, set in DejaVu Sans (subset with fontTools
to the letters used, and embedded), XMP metadata declaring PDF/A-2B, an sRGB output intent
(the profile LittleCMS makes through Pillow, with its creation date pinned), fixed dates and
an ID derived from the content.

    python sample_data/make_sample_pdfa.py                     # rewrite sample_data/avviso_tari.pdf
    python sample_data/make_sample_pdfa.py --variants DIR      # the broken files, into DIR

Rebuilding the sample needs fontTools and Pillow (dev tools) and the DejaVu font
(Debian: fonts-dejavu-core). The variants are derived from the committed sample with pikepdf
alone, so tests can make them in a temporary folder instead of committing binaries.
"""

from __future__ import annotations

import argparse
import hashlib
import io
from collections.abc import Callable, Iterable
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name, Operator, String

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "avviso_tari.pdf"
FONT_PLACES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
               "/usr/share/fonts/dejavu/DejaVuSans.ttf",
               "/usr/local/share/fonts/DejaVuSans.ttf")
MOMENT = "2026-12-01T09:00:00+01:00"  # every date in the file: the sample never changes
TITLE = "Avviso di pagamento TARI 2027"
AUTHOR = "Comune di Esempio - Ufficio Tributi"
LINES: tuple[tuple[float, str], ...] = (  # (font size, text); cp1252 covers every letter
    (18, "Comune di Esempio — Ufficio Tributi"),
    (14, TITLE),
    (11, ""),
    (11, "Gentile contribuente,"),
    (11, "le inviamo l'avviso di pagamento della tassa sui rifiuti (TARI) per l'anno 2027,"),
    (11, "calcolata sulla superficie dell'immobile e sul numero degli occupanti."),
    (11, ""),
    (11, "Importo dovuto: € 187,50 in un'unica rata"),
    (11, "Scadenza: 31 gennaio 2027"),
    (11, "Codice avviso: 3012 3456 7890 1234 16"),  # pagoPA check digits hold
    (11, "Ente creditore: Comune di Esempio (codice fiscale 00000000000)"),
    (11, ""),
    (11, "Può pagare dall'app IO, dall'home banking o presso gli esercenti aderenti a pagoPA."),
    (11, "Per informazioni: Ufficio Tributi, lunedì–venerdì 9:00–12:30."),
    (11, ""),
    (9, "Documento di esempio prodotto da dispatcher (sample_data/make_sample_pdfa.py)."),
    (9, "Le persone e gli importi sono inventati."),
)
XMP = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>{{part}}</pdfaid:part>
   <pdfaid:conformance>{{conformance}}</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{TITLE}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{AUTHOR}</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreateDate>{MOMENT}</xmp:CreateDate>
   <xmp:ModifyDate>{MOMENT}</xmp:ModifyDate>
   <xmp:MetadataDate>{MOMENT}</xmp:MetadataDate>
   <xmp:CreatorTool>dispatcher sample_data/make_sample_pdfa.py</xmp:CreatorTool>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>pikepdf</pdf:Producer>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
A4 = (595.28, 841.89)
MARGIN = 56.0


# -- the good sample ---------------------------------------------------------------------------


def font_file() -> Path:
    for place in FONT_PLACES:
        if Path(place).is_file():
            return Path(place)
    raise SystemExit("DejaVuSans.ttf not found: install it (apt install fonts-dejavu-core)")


def srgb_profile() -> bytes:
    """LittleCMS's sRGB profile (ICC v4, monitor class: what PDF/A-2 accepts), date pinned.

    LittleCMS stamps the creation time into the header (bytes 24-35); a fixed date there makes
    the profile, and so the PDF, the same on every run. The profile ID stays zero (unset).
    """
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    fixed = (2026, 12, 1, 8, 0, 0)
    data[24:36] = b"".join(value.to_bytes(2, "big") for value in fixed)
    return bytes(data)


def subset_font(text: str) -> tuple[bytes, dict[str, object]]:
    """DejaVu Sans cut down to ``text``'s letters, and the metrics the PDF font needs."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(font_file()), recalcTimestamp=False)
    options = subset.Options()
    options.hinting = False
    options.layout_features = []
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
    options.notdef_outline = True
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
    cap_height = _cap_height(font)  # measured before the subset drops the H
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    scale = 1000 / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    advance = font["hmtx"].metrics
    widths = {char: round(advance[cmap[ord(char)]][0] * scale) for char in set(text)}
    head, hhea = font["head"], font["hhea"]
    metrics: dict[str, object] = {
        "widths": widths,
        "bbox": [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
        "ascent": round(hhea.ascent * scale),
        "descent": round(hhea.descent * scale),
        "cap_height": round(cap_height * scale),
    }
    return buffer.getvalue(), metrics


def _cap_height(font: object) -> int:
    """The height of a capital H, which is what CapHeight means (DejaVu's OS/2 lacks it)."""
    glyphs = font["glyf"]  # type: ignore[index]
    name = font.getBestCmap()[ord("H")]  # type: ignore[attr-defined]
    return int(glyphs[name].yMax)


def build_sample() -> bytes:
    """The sample PDF/A-2b, as bytes."""
    text = "".join(line for _, line in LINES)
    program, metrics = subset_font(text)
    pdf = pikepdf.new()
    widths: dict[str, int] = metrics["widths"]  # type: ignore[assignment]
    codes = {char: char.encode("cp1252")[0] for char in widths}
    first, last = min(codes.values()), max(codes.values())
    by_code = {code: widths[char] for char, code in codes.items()}
    tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(text.encode()).digest()[:6])
    name = Name(f"/{tag}+DejaVuSans")
    font_stream = pikepdf.Stream(pdf, program)
    font_stream.Length1 = len(program)
    descriptor = pdf.make_indirect(Dictionary(
        Type=Name.FontDescriptor, FontName=name, Flags=32,
        FontBBox=Array(metrics["bbox"]), ItalicAngle=0, Ascent=metrics["ascent"],
        Descent=metrics["descent"], CapHeight=metrics["cap_height"], StemV=80,
        FontFile2=font_stream))
    font = pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.TrueType, BaseFont=name, FirstChar=first, LastChar=last,
        Widths=Array([by_code.get(code, 0) for code in range(first, last + 1)]),
        Encoding=Name.WinAnsiEncoding, FontDescriptor=descriptor))
    page = pdf.add_blank_page(page_size=A4)
    page.obj.Resources = Dictionary(Font=Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(_content(LINES))
    profile = pikepdf.Stream(pdf, srgb_profile())
    profile.N = 3
    pdf.Root.OutputIntents = Array([pdf.make_indirect(Dictionary(
        Type=Name.OutputIntent, S=Name.GTS_PDFA1, OutputConditionIdentifier="sRGB IEC61966-2.1",
        Info="sRGB IEC61966-2.1", DestOutputProfile=profile))])
    _set_xmp(pdf, "2", "B")
    pdf.Root.Lang = String("it-IT")
    return _save(pdf)


def _content(lines: Iterable[tuple[float, str]]) -> bytes:
    """Drawing operators for the text lines, top to bottom, plus a rule under the heading."""
    ops: list[tuple[list[object], Operator]] = []
    y = A4[1] - MARGIN
    ops += [([0.0, 0.2, 0.45], Operator("rg"))]
    for number, (size, line) in enumerate(lines):
        y -= size * 1.45
        if number == 2:
            ops += [([0.0, 0.2, 0.45], Operator("RG")), ([0.8], Operator("w")),
                    ([MARGIN, y + 6], Operator("m")), ([A4[0] - MARGIN, y + 6], Operator("l")),
                    ([], Operator("S")), ([0.1, 0.1, 0.1], Operator("rg"))]
        if not line:
            continue
        ops += [([], Operator("BT")), ([Name.F1, size], Operator("Tf")),
                ([MARGIN, round(y, 2)], Operator("Td")),
                ([String(line.encode("cp1252"))], Operator("Tj")), ([], Operator("ET"))]
    return pikepdf.unparse_content_stream(ops)


def _set_xmp(pdf: pikepdf.Pdf, part: str, conformance: str) -> None:
    xmp = XMP.format(part=part, conformance=conformance).encode("utf-8")
    pdf.Root.Metadata = pdf.make_stream(xmp, Type=Name.Metadata, Subtype=Name.XML)


def _save(pdf: pikepdf.Pdf, **options: object) -> bytes:
    buffer = io.BytesIO()
    # no fix_metadata_version: it would rewrite our XMP; deterministic_id: same bytes each run
    # (qpdf cannot derive an ID from encrypted output: those variants are not reproducible)
    pdf.save(buffer, min_version="1.7", fix_metadata_version=False,
             deterministic_id="encryption" not in options,
             object_stream_mode=pikepdf.ObjectStreamMode.disable,
             **options)  # type: ignore[arg-type]
    return buffer.getvalue()


# -- the broken variants -----------------------------------------------------------------------


def _changed(change: Callable[[pikepdf.Pdf], None], **options: object) -> Callable[[bytes], bytes]:
    def make(good: bytes) -> bytes:
        with pikepdf.open(io.BytesIO(good)) as pdf:
            change(pdf)
            return _save(pdf, **options)

    return make


def _no_xmp(pdf: pikepdf.Pdf) -> None:
    del pdf.Root["/Metadata"]


def _no_output_intent(pdf: pikepdf.Pdf) -> None:
    del pdf.Root["/OutputIntents"]


def _unknown_level(pdf: pikepdf.Pdf) -> None:
    _set_xmp(pdf, "2", "X")


def _helvetica(pdf: pikepdf.Pdf) -> Dictionary:
    return pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type1,
                                        BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding))


def _font_not_embedded(pdf: pikepdf.Pdf) -> None:
    pdf.pages[0].obj.Resources.Font.F1 = _helvetica(pdf)


def _font_in_form(pdf: pikepdf.Pdf) -> None:
    """A font left out only inside a Form XObject, nested in another: found through both."""
    inner = pdf.make_stream(b"BT /F9 8 Tf 0 0 Td (timbro) Tj ET", Type=Name.XObject,
                            Subtype=Name.Form, BBox=Array([0, 0, 100, 20]),
                            Resources=Dictionary(Font=Dictionary(F9=_helvetica(pdf))))
    outer = pdf.make_stream(b"/Inner Do", Type=Name.XObject, Subtype=Name.Form,
                            BBox=Array([0, 0, 100, 20]),
                            Resources=Dictionary(XObject=Dictionary(Inner=inner)))
    page = pdf.pages[0]
    page.obj.Resources.XObject = Dictionary(Stamp=outer)
    page.contents_add(pdf.make_stream(b"q 1 0 0 1 400 60 cm /Stamp Do Q"))


def _javascript(pdf: pikepdf.Pdf) -> None:
    script = Dictionary(S=Name.JavaScript, JS=String("app.alert('Pagare subito!');"))
    pdf.Root.OpenAction = pdf.make_indirect(script)
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(
        Names=Array([String("avviso"), pdf.make_indirect(Dictionary(script))])))


def _launch(pdf: pikepdf.Pdf) -> None:
    link = Dictionary(Type=Name.Annot, Subtype=Name.Link, Rect=Array([56, 56, 200, 80]),
                      Border=Array([0, 0, 0]),
                      A=Dictionary(S=Name.Launch, F=String("C:\\Windows\\System32\\calc.exe")))
    pdf.pages[0].obj.Annots = Array([pdf.make_indirect(link)])


def _pdfa1_transparent(pdf: pikepdf.Pdf) -> None:
    _set_xmp(pdf, "1", "B")
    pdf.pages[0].obj.Resources.ExtGState = Dictionary(Half=Dictionary(ca=0.5))


def _pdfa1_embedded(pdf: pikepdf.Pdf) -> None:
    _set_xmp(pdf, "1", "B")
    receipt = pikepdf.AttachedFileSpec(pdf, b"ricevuta", mime_type="text/plain")
    pdf.attachments["ricevuta.txt"] = receipt


def _truncated(good: bytes) -> bytes:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R"


def _web_page(good: bytes) -> bytes:
    """What a download link that expired saves under the PDF's name."""
    return b"<!DOCTYPE html><html><body>Sessione scaduta</body></html>\n"


VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "no_xmp.pdf": _changed(_no_xmp),
    "no_output_intent.pdf": _changed(_no_output_intent),
    "unknown_level.pdf": _changed(_unknown_level),
    "font_not_embedded.pdf": _changed(_font_not_embedded),
    "font_in_form.pdf": _changed(_font_in_form),
    "javascript.pdf": _changed(_javascript),
    "launch.pdf": _changed(_launch),
    "password.pdf": _changed(lambda pdf: None,
                             encryption=pikepdf.Encryption(user="segreto", owner="segreto")),
    "restricted.pdf": _changed(lambda pdf: None, encryption=pikepdf.Encryption(
        user="", owner="segreto", allow=pikepdf.Permissions(extract=False))),
    "pdfa1_transparent.pdf": _changed(_pdfa1_transparent),
    "pdfa1_embedded.pdf": _changed(_pdfa1_embedded),
    "damaged.pdf": _truncated,
    "not_a_pdf.pdf": _web_page,
}
"""The broken files, each one mistake away from the sample, by file name."""


def write_variants(folder: Path, good: Path = SAMPLE) -> dict[str, Path]:
    """Write every variant into ``folder``; returns them by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    data = good.read_bytes()
    written = {}
    for name, make in VARIANTS.items():
        (folder / name).write_bytes(make(data))
        written[name] = folder / name
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=SAMPLE, help="where to write the sample")
    parser.add_argument("--variants", type=Path, metavar="DIR",
                        help="write the broken variants (from the committed sample) into DIR")
    args = parser.parse_args(argv)
    if args.variants:
        for path in write_variants(args.variants).values():
            print(path)
        return
    data = build_sample()
    args.out.write_bytes(data)
    print(f"{args.out} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}…)")


if __name__ == "__main__":
    main()
