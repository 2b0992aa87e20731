"""The PDF/A pre-flight proper: what an opened document declares and contains.

It reads the document's structure through pikepdf (qpdf), never the page content streams:
fonts, images and graphics states are found through the resource dictionaries of the pages,
their Form XObjects, tiling patterns, Type 3 fonts and annotation appearances, each visited
once. That keeps a 500-page file fast and still finds a font that only a nested form uses.

This is a pre-flight, not a validator: it catches what office software most often gets wrong
(no PDF/A declaration, no output intent, fonts left out, scripts) with reasons a person can
act on. A full ISO 19005 check is veraPDF's job (``--pdfa-validator``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

from dispatcher.campaign import pdf_problems as words
from dispatcher.campaign.pdf_problems import PdfProblem, Place

__all__ = ["Inspection", "declared_pdfa", "inspect_document"]

# ISO 19005: the conformance letters each part defines (part 4 uses none, or E / F)
_CONFORMANCE = {"1": {"A", "B"}, "2": {"A", "B", "U"}, "3": {"A", "B", "U"},
                "4": {"", "E", "F"}}
_SHOWN = 3  # how many fonts / places a sentence names before "and N more"
_FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True, slots=True)
class Inspection:
    """The declared PDF/A level (``"2B"``) and the problems found in the document."""

    pdfa: str | None
    problems: tuple[PdfProblem, ...]


def inspect_document(pdf: pikepdf.Pdf) -> Inspection:
    """Everything :mod:`pdf_check` needs to know about an opened, unencrypted document."""
    pdfa, declaration = declared_pdfa(pdf)
    problems: list[PdfProblem] = [declaration] if declaration else []
    intent = _output_intent_problem(pdf)
    if intent:
        problems.append(intent)
    walk = _ResourceWalk(pdfa_one=bool(pdfa and pdfa.startswith("1")))
    walk.run(pdf)
    if walk.fonts:
        problems.append(words.fonts_not_embedded(walk.fonts[:_SHOWN],
                                                 len(walk.fonts) - _SHOWN))
    actions = _Actions()
    actions.run(pdf)
    if actions.javascript:
        problems.append(words.javascript(actions.javascript[:_SHOWN],
                                         len(actions.javascript) - _SHOWN))
    if actions.launch:
        problems.append(words.launch_action(actions.launch[:_SHOWN],
                                            len(actions.launch) - _SHOWN))
    embedded = _embedded_file_problem(pdf, pdfa)
    if embedded:
        problems.append(embedded)
    if walk.transparency:
        pages = sorted(set(walk.transparency))
        problems.append(words.transparency(pages[:_SHOWN], len(pages) - _SHOWN))
    return Inspection(pdfa, tuple(problems))


# -- the declaration ---------------------------------------------------------------------------


def declared_pdfa(pdf: pikepdf.Pdf) -> tuple[str | None, PdfProblem | None]:
    """The level the XMP metadata declare (``"2B"``, ``"4"``), or the problem with it."""
    if "/Metadata" not in pdf.Root:
        return None, words.pdfa_not_declared("no XMP metadata", "mancano i metadati XMP")
    try:
        meta = pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False,
                                 strict=True)
        part = str(meta.get("pdfaid:part", "") or "").strip()
        conformance = str(meta.get("pdfaid:conformance", "") or "").strip()
    except Exception:  # any XML or XMP failure means "not declared"
        return None, words.pdfa_not_declared("the XMP metadata cannot be read",
                                             "i metadati XMP non si possono leggere")
    if not part:
        return None, words.pdfa_not_declared("no pdfaid:part in the XMP metadata",
                                             "manca pdfaid:part nei metadati XMP")
    upper = conformance.upper()
    if part not in _CONFORMANCE or upper not in _CONFORMANCE[part]:
        return None, words.pdfa_unknown_level(part, conformance)
    return part + upper, None


def _output_intent_problem(pdf: pikepdf.Pdf) -> PdfProblem | None:
    intents = pdf.Root.get("/OutputIntents")
    if not isinstance(intents, Array) or len(intents) == 0:
        return words.no_output_intent("the file has no output intent (colour profile)",
                                      "il file non ha un output intent (profilo colore)")
    pdfa_intents = [intent for intent in intents
                    if isinstance(intent, Dictionary) and intent.get("/S") == Name.GTS_PDFA1]
    if not pdfa_intents:
        return words.no_output_intent("the file has no PDF/A output intent (GTS_PDFA1)",
                                      "il file non ha un output intent PDF/A (GTS_PDFA1)")
    if not any(isinstance(intent.get("/DestOutputProfile"), Stream) for intent in pdfa_intents):
        return words.no_output_intent("the PDF/A output intent has no colour profile",
                                      "l'output intent PDF/A non ha un profilo colore")
    return None


# -- fonts and transparency, through the resources ---------------------------------------------


def _font_embedded(font: Dictionary) -> bool:
    """A Type 3 font is drawn by the file itself; others need a font file in the descriptor."""
    subtype = font.get("/Subtype")
    if subtype == Name.Type3:
        return True
    if subtype == Name.Type0:
        descendants = font.get("/DescendantFonts")
        if not isinstance(descendants, Array) or len(descendants) == 0:
            return False
        font = descendants[0]
        if not isinstance(font, Dictionary):
            return False
    descriptor = font.get("/FontDescriptor")
    return isinstance(descriptor, Dictionary) and any(key in descriptor for key in _FONT_FILES)


def _key(obj: pikepdf.Object) -> tuple[int, int] | None:
    """The identity of an indirect object; direct ones cannot be shared, so need none."""
    return obj.objgen if obj.is_indirect else None


@dataclass
class _ResourceWalk:
    """Walks every resource dictionary reachable from the pages, each object once."""

    pdfa_one: bool
    fonts: list[tuple[str, int]] = field(default_factory=list)
    transparency: list[int] = field(default_factory=list)
    _seen: set[tuple[int, int]] = field(default_factory=set)

    def _first_time(self, obj: pikepdf.Object) -> bool:
        key = _key(obj)
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def run(self, pdf: pikepdf.Pdf) -> None:
        for number, page in enumerate(pdf.pages, start=1):
            if self.pdfa_one and _is_transparency_group(page.obj.get("/Group")):
                self.transparency.append(number)
            pending = [_inherited(page.obj, "/Resources"), *_appearance_resources(page.obj)]
            while pending:
                resources = pending.pop()
                if isinstance(resources, Dictionary) and self._first_time(resources):
                    pending.extend(self._resources(resources, number))

    def _resources(self, resources: Dictionary, page: int) -> Iterator[pikepdf.Object]:
        """Check one resource dictionary; yield the nested ones to visit."""
        for font in _values(resources.get("/Font")):
            if isinstance(font, Dictionary) and self._first_time(font):
                if not _font_embedded(font):
                    self.fonts.append((_font_name(font), page))
                if font.get("/Subtype") == Name.Type3:
                    yield font.get("/Resources")
        for xobject in _values(resources.get("/XObject")):
            if not isinstance(xobject, Stream) or not self._first_time(xobject):
                continue
            subtype = xobject.get("/Subtype")
            if subtype == Name.Form:
                if self.pdfa_one and _is_transparency_group(xobject.get("/Group")):
                    self.transparency.append(page)
                yield xobject.get("/Resources")
            elif subtype == Name.Image and self.pdfa_one and "/SMask" in xobject:
                self.transparency.append(page)
        for pattern in _values(resources.get("/Pattern")):
            if isinstance(pattern, Stream) and self._first_time(pattern):
                yield pattern.get("/Resources")  # a tiling pattern draws with its own resources
        if self.pdfa_one:
            for state in _values(resources.get("/ExtGState")):
                if isinstance(state, Dictionary) and _is_transparent_state(state):
                    self.transparency.append(page)


def _values(obj: pikepdf.Object | None) -> Iterator[pikepdf.Object]:
    if isinstance(obj, Dictionary):
        yield from obj.values()


def _inherited(page: Dictionary, key: str) -> pikepdf.Object | None:
    """A page attribute, looked up through the page tree as the PDF specification says."""
    node: pikepdf.Object | None = page
    seen: set[tuple[int, int]] = set()
    while isinstance(node, Dictionary):
        if key in node:
            return node.get(key)
        identity = _key(node)
        if identity in seen:
            return None
        if identity is not None:
            seen.add(identity)
        node = node.get("/Parent")
    return None


def _appearance_resources(page: Dictionary) -> Iterator[pikepdf.Object]:
    """The resources of the annotations' appearance streams (form fields, stamps)."""
    for annotation in _annotations(page):
        appearances = annotation.get("/AP")
        for state in _values(appearances):
            streams = [state] if isinstance(state, Stream) else list(_values(state))
            for stream in streams:
                if isinstance(stream, Stream):
                    yield stream.get("/Resources")


def _annotations(page: Dictionary) -> Iterator[Dictionary]:
    annotations = page.get("/Annots")
    if isinstance(annotations, Array):
        yield from (item for item in annotations if isinstance(item, Dictionary))


def _font_name(font: Dictionary) -> str:
    base = font.get("/BaseFont")
    return str(base)[1:] if isinstance(base, Name) else "(unnamed font)"


def _is_transparency_group(group: pikepdf.Object | None) -> bool:
    return isinstance(group, Dictionary) and group.get("/S") == Name.Transparency


def _is_transparent_state(state: Dictionary) -> bool:
    """A graphics state that PDF/A-1 forbids: a soft mask, opacity below 1, a blend mode."""
    soft_mask = state.get("/SMask")
    if soft_mask is not None and soft_mask != Name["/None"]:
        return True
    for key in ("/CA", "/ca"):
        value = state.get(key)
        if value is not None and float(value) < 1.0:
            return True
    blend = state.get("/BM")
    return blend is not None and blend not in (Name.Normal, Name.Compatible)


# -- actions: JavaScript and launch ------------------------------------------------------------


@dataclass
class _Actions:
    """Collects where the document runs JavaScript or launches programs."""

    javascript: list[Place] = field(default_factory=list)
    launch: list[Place] = field(default_factory=list)
    _seen: set[tuple[int, int]] = field(default_factory=set)

    def run(self, pdf: pikepdf.Pdf) -> None:
        root = pdf.Root
        names = root.get("/Names")
        if isinstance(names, Dictionary) and "/JavaScript" in names:
            self.javascript.append(("names", None))
        opening = root.get("/OpenAction")
        if isinstance(opening, Dictionary):  # an array is a destination: harmless
            self._action(opening, ("opening", None))
        self._additional(root, ("events", None))
        for number, page in enumerate(pdf.pages, start=1):
            self._additional(page.obj, ("page", number))
            for annotation in _annotations(page.obj):
                self._action(annotation.get("/A"), ("annotation", number))
                self._additional(annotation, ("annotation", number))
        form = root.get("/AcroForm")
        if isinstance(form, Dictionary):
            self._fields(form.get("/Fields"))
        outlines = root.get("/Outlines")
        if isinstance(outlines, Dictionary):
            self._bookmarks(outlines.get("/First"))

    def _additional(self, holder: Dictionary, place: Place) -> None:
        for action in _values(holder.get("/AA")):
            self._action(action, place)

    def _action(self, action: pikepdf.Object | None, place: Place) -> None:
        """One action and the actions chained after it by ``/Next``."""
        pending = [action]
        while pending:
            current = pending.pop()
            if not isinstance(current, Dictionary) or not self._first_time(current):
                continue
            kind = current.get("/S")
            if kind == Name.JavaScript:
                self.javascript.append(place)
            elif kind == Name.Launch:
                self.launch.append(place)
            chained = current.get("/Next")
            pending.extend(chained if isinstance(chained, Array) else [chained])

    def _fields(self, fields: pikepdf.Object | None) -> None:
        pending = list(fields) if isinstance(fields, Array) else []
        while pending:
            item = pending.pop()
            if not isinstance(item, Dictionary) or not self._first_time(item):
                continue
            self._additional(item, ("field", None))
            kids = item.get("/Kids")
            if isinstance(kids, Array):
                pending.extend(kids)

    def _bookmarks(self, first: pikepdf.Object | None) -> None:
        pending = [first]
        while pending:
            item = pending.pop()
            if not isinstance(item, Dictionary) or not self._first_time(item):
                continue
            self._action(item.get("/A"), ("bookmark", None))
            pending.extend([item.get("/Next"), item.get("/First")])

    def _first_time(self, obj: Dictionary) -> bool:
        key = _key(obj)
        if key is None:
            return True
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


# -- embedded files ----------------------------------------------------------------------------


def _embedded_file_problem(pdf: pikepdf.Pdf, pdfa: str | None) -> PdfProblem | None:
    """PDF/A-1 forbids embedded files; PDF/A-2 allows only PDF/A ones; PDF/A-3 and 4 any."""
    if pdfa is None or pdfa[0] not in "12":
        return None
    names = pdf.Root.get("/Names")
    if not isinstance(names, Dictionary) or "/EmbeddedFiles" not in names:
        return None
    offending = [name for name, spec in pdf.attachments.items()
                 if pdfa.startswith("1") or not _is_pdfa(spec.get_file().read_bytes())]
    if not offending:
        return None
    return words.embedded_files(pdfa, offending[:_SHOWN], len(offending) - _SHOWN)


def _is_pdfa(data: bytes) -> bool:
    try:
        with pikepdf.open(io.BytesIO(data)) as inner:
            return declared_pdfa(inner)[0] is not None
    except pikepdf.PdfError:
        return False
