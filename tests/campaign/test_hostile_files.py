"""Nothing in a file can crash ``dispatcher validate``: a property over hostile files.

Hypothesis writes campaign files the way real offices and broken tools do -- any delimiter,
quoting or none, UTF-8 with or without BOM, UTF-16, Windows-1252, LF/CRLF/CR line endings,
mixed date forms in one column (``2026-12-31T22:59:00Z`` next to ``2026-12-31T23:59:00``),
very long fields, stray bytes, truncated or garbage Excel files -- under a header close to a
real one. Whatever the file, validate must answer with exit 0 (valid) or 2 (refused, with a
reason), never a traceback or a panic.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.it import codicefiscale
from typer.testing import CliRunner

from dispatcher.cli import app

runner = CliRunner()

HEADER = ["codice_fiscale", "oggetto", "testo", "importo", "codice_avviso", "scadenza",
          "third_party_id", "configuration_id", "nome"]
SUBJECT = "Avviso di pagamento TARI 2027"
MARKDOWN = ("Gentile contribuente le ricordiamo la scadenza del pagamento della tassa sui "
            "rifiuti. Grazie.")
_BODY = "RSSMRA80A01H501"
VALID_CF = _BODY + codicefiscale.calc_check_digit(_BODY)
TEMPLATE = (f'subject = "{SUBJECT} {{nome}}"\nmarkdown = """\n{MARKDOWN} '
            '{importo|euro} entro il {scadenza|data_lunga}. {cognomen}\n"""\n')

dates = st.sampled_from([
    "2026-12-31T22:59:00Z", "2026-12-31T23:59:00", "2027-01-31", "31/01/2027",
    "2027-01-31T12:00:00+01:00", "2027-03-28T02:30:00", "31/02/2027", "2027-13-01", "0",
    "9999-12-31T23:59:59", "1900-01-01", "2027-01-31 10:00", "",
])
cells = st.one_of(
    st.sampled_from([VALID_CF, VALID_CF.lower(), "TOTALE", "80012345678", SUBJECT, MARKDOWN,
                     "1250", "12,50", "-1", "1e400", "301234567890123416", "3.01E+17",
                     "PRATICA-0001", "01ARZ3NDEKTSV4RRFFQ69G5FAV", '"', '""', "=1+1", "\x00",
                     "città", "🙂" * 70, "{nome}", "\ufeff", "\u200b"]),
    dates,
    st.text(max_size=40),
    st.text(alphabet="x;,\t|\"\r\n ", max_size=60),
    st.integers(min_value=0, max_value=30_000).map(lambda n: "é" * n),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=len(HEADER) + 2), min_size=0,
                max_size=12)


@st.composite
def headers(draw: st.DrawFn) -> list[str]:
    """A header close to a real one: the fiscal code column, others in any order and case."""
    rest = draw(st.lists(st.sampled_from(HEADER[1:]), unique=True, max_size=len(HEADER) - 1))
    names = [draw(st.sampled_from(["codice_fiscale", "CF", "Codice Fiscale", "cf;x"])), *rest]
    if draw(st.booleans()):
        names = draw(st.permutations(names))
    return [draw(st.sampled_from([n, n.upper(), f" {n} ", f'"{n}"'])) for n in names]


def _field(value: str, delimiter: str, quoting: str) -> str:
    if quoting == "all" or (quoting == "minimal" and any(c in value for c in
                                                         f'{delimiter}"\r\n')):
        return '"' + value.replace('"', '""') + '"'
    return value


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    quoting = draw(st.sampled_from(["minimal", "all", "none"]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    lines = [[*draw(headers())], *draw(rows)]
    if draw(st.booleans()):  # a due-date column mixing forms with and without a zone
        header = [*lines[0], "scadenza"] if not any(
            "scadenza" in name.lower() for name in lines[0]) else lines[0]
        position = next(i for i, name in enumerate(header) if "scadenza" in name.lower())
        mixed = draw(st.lists(dates, min_size=len(lines) - 1, max_size=len(lines) - 1))
        body = [[*line, *[""] * (position + 1 - len(line))] for line in lines[1:]]
        for line, value in zip(body, mixed, strict=True):
            line[position] = value
        lines = [header, *body]
    text = newline.join(delimiter.join(_field(v, delimiter, quoting) for v in line)
                        for line in lines) + draw(st.sampled_from(["", newline, newline * 3]))
    if draw(st.booleans()):
        text = "sep=" + delimiter + newline + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    for _ in range(draw(st.integers(0, 3))):  # stray bytes anywhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return "c.csv", data


@st.composite
def excel_files(draw: st.DrawFn) -> tuple[str, bytes]:
    stream = io.BytesIO()
    book = xlsxwriter.Workbook(stream, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, draw(headers()))
    for number, line in enumerate(draw(rows), start=1):
        for column, value in enumerate(line):
            typed = draw(st.sampled_from(["text", "number"]))
            # isascii: '²'.isdigit() is true, but float('²') fails
            if typed == "number" and value.isascii() and value.replace(".", "", 1).isdigit():
                sheet.write_number(number, column, float(value))
            else:
                sheet.write_string(number, column, value[:32_000])
    book.close()
    data = stream.getvalue()
    garbage = draw(st.sampled_from(["none", "truncate", "noise", "fake"]))
    if garbage == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif garbage == "noise":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at + 64:]
    elif garbage == "fake":
        data = b"PK\x03\x04" + draw(st.binary(max_size=200))
    return draw(st.sampled_from(["c.xlsx", "c.csv"])), data


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(file=st.one_of(csv_files(), excel_files()), template=st.booleans(),
       json_output=st.booleans(), preview=st.booleans())
def test_validate_answers_every_file_with_exit_0_or_2_and_no_traceback(
        file: tuple[str, bytes], template: bool, json_output: bool, preview: bool) -> None:
    name, data = file
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        args = ["validate", str(path)]
        if template:
            (Path(folder) / "t.toml").write_text(TEMPLATE, encoding="utf-8")
            args += ["--template", str(Path(folder) / "t.toml")]
        if json_output:
            args.append("--json")
        if preview:
            args += ["--preview", "2,3"]
        result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception)
    for marker in ("Traceback", "PanicException", "panicked"):
        assert marker not in result.output


def _tari(dates_: list[str], newline: str = "\n") -> str:
    header = "codice_fiscale;oggetto;testo;importo;codice_avviso;scadenza"
    codes = [VALID_CF, "CNTLCU87R57L219G", "DNGNCL87P28L736E"]
    lines = [f"{cf};{SUBJECT};{MARKDOWN};1250;301234567890123416;{d}"
             for cf, d in zip(codes, dates_, strict=False)]
    return newline.join([header, *lines]) + newline


def test_a_due_date_column_mixing_zones_validates_in_a_real_process(tmp_path: Path) -> None:
    """The panic of the issue came from Rust: only a real process shows what reaches stderr."""
    import subprocess
    import sys

    path = tmp_path / "tari.csv"
    path.write_text(_tari(["2026-12-31T22:59:00Z", "2026-12-31T23:59:00", "31/12/2026"]),
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "dispatcher", "validate", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # mixed forms are normal
    assert "OK: 3 message(s) ready" in done.stdout
    for marker in ("Traceback", "PanicException", "panicked"):
        assert marker not in done.stdout + done.stderr


def test_old_mac_line_endings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(_tari(["2027-01-31"] * 3, newline="\r").encode("cp1252"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "rows                3" in result.output
