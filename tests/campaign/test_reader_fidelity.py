"""What the file says is what is read: encodings without guessing, line endings, masking.

Every fixture is built here, byte by byte, so each test shows the bytes it is about.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

import polars as pl
import pytest
from campaign_helpers import CF1, CF2, CF3, CF4, MARKDOWN, NOW, SUBJECT

from dispatcher.campaign import CampaignFileError, CampaignOptions, load_campaign
from dispatcher.campaign.problems import CELL_PROBLEM_SCHEMA
from dispatcher.campaign.reader import Table, read_table
from dispatcher.privacy import mask_fiscal_code

CODES = (CF1, CF2, CF3, CF4)
TEXT = "Può pagare in città e grazie."  # "ò" and "à" are two-byte UTF-8 sequences


def _read(tmp_path: Path, data: bytes, name: str = "c.csv", **options: object) -> Table:
    path = tmp_path / name
    path.write_bytes(data)
    return read_table(path, **options)  # type: ignore[arg-type]


def _cells(table: Table) -> list[tuple[int, str, str, str]]:
    return [tuple(r) for r in table.cell_problems.iter_rows()]  # type: ignore[misc]


def _utf8_rows(count: int) -> list[str]:
    """Data rows 2..count+1: a fiscal code, a name with an accent, a text with two."""
    return [f"{CODES[i % 4]},Niccolò {i + 2},{TEXT}" for i in range(count)]


# -- UTF-8 with a few bytes that are not ----------------------------------------------------


def test_one_stray_cp1252_byte_in_a_utf8_file_marks_only_its_cell(tmp_path: Path) -> None:
    lines = ["fiscal_code,nome,markdown", *_utf8_rows(3000)]
    data = ("\n".join(lines) + "\n").encode()
    # row 2,500 was typed on Windows: "Pu’" with the Windows-1252 apostrophe 0x92
    broken = f"{CODES[2498 % 4]},Niccolò 2500,Pu".encode() + b"\x92 pagare"
    data = data.replace(f"{CODES[2498 % 4]},Niccolò 2500,{TEXT}".encode(), broken, 1)
    table = _read(tmp_path, data)

    assert table.encoding == "utf-8"
    assert _cells(table) == [(2500, "markdown", "invalid_bytes", '0x92 in "Pu\\x92 pagare"')]
    assert table.cell_problems.schema == CELL_PROBLEM_SCHEMA
    frame = table.frame
    assert frame.height == 3000
    assert frame.get_column("__row").to_list() == list(range(2, 3002))
    others = frame.filter(frame["__row"] != 2500)
    assert others.get_column("markdown").unique().to_list() == [TEXT]  # not Mac Roman: "Pu√≤"
    assert others.get_column("nome").to_list() == [
        f"Niccolò {n}" for n in range(2, 3002) if n != 2500
    ]
    damaged = frame.filter(frame["__row"] == 2500).row(0, named=True)
    assert damaged["nome"] == "Niccolò 2500"
    assert damaged["markdown"] == "Pu\ufffd pagare"  # shown as the replacement character
    assert any("except for 1 byte" in note for note in table.notes)


def test_the_rows_with_invalid_bytes_are_invalid_and_the_others_are_sent(
    tmp_path: Path,
) -> None:
    lines = ["fiscal_code,subject,markdown", *(f"{c},{SUBJECT},{MARKDOWN} Può." for c in CODES)]
    data = ("\n".join(lines) + "\n").encode().replace(b"Pu\xc3\xb2.", b"Pu\xf2.", 1)
    path = tmp_path / "c.csv"
    path.write_bytes(data)
    campaign = load_campaign(path, options=CampaignOptions(now=NOW))
    errors = [(p.row, p.code.value) for p in campaign.problems if p.is_error]
    assert errors == [(2, "invalid_bytes")]
    assert "0xF2" in campaign.problems[0].message
    assert campaign.valid_count == 3
    assert campaign.encoding == "utf-8"


def test_every_cell_with_invalid_bytes_is_named_and_no_fiscal_code_is_quoted(
    tmp_path: Path,
) -> None:
    rows = [
        f"{CF1},Niccolò,{TEXT}".encode(),
        # a byte inside the fiscal code: only the byte is named, never the text around it
        CF2[:8].encode() + b"\xe0" + CF2[8:].encode() + f",Lucia,{TEXT}".encode(),
        # two bad bytes in one cell, and a fiscal code in the quoted text around them
        f"{CF3},Jos".encode() + b"\xe9 \x93" + f"x,vedi {CF4} citt".encode() + b"\xe0",
    ]
    table = _read(tmp_path, b"\r\n".join([b"cf,nome,testo", *rows]) + b"\r\n")
    assert table.encoding == "utf-8"
    cells = _cells(table)
    assert cells == [
        (3, "fiscal_code", "invalid_bytes", "0xE0"),
        (4, "nome", "invalid_bytes", '0xE9, 0x93 in "Jos\\xE9 \\x93x"'),
        (4, "markdown", "invalid_bytes",
         f'0xE0 in "…{CF4[:6]}*******{CF4[-3:]} citt\\xE0"'),
    ]
    assert all(CF4 not in value and CF2 not in value for *_, value in cells)


def test_a_code_like_word_holding_the_byte_is_not_quoted(tmp_path: Path) -> None:
    broken = CF1[:8].encode() + b"\x92" + CF1[8:].encode()  # not a fiscal code any more
    data = f"cf,nome,testo\n{CF2},Niccolò,vedi ".encode() + broken + b" grazie\n"
    assert _cells(_read(tmp_path, data)) == [(2, "markdown", "invalid_bytes", "0x92")]


def test_a_sequence_split_across_read_chunks_still_counts_as_utf8(tmp_path: Path) -> None:
    head = f"cf,nome,testo\n{CF1},Lucia,".encode()
    padding = b"x" * ((1 << 20) - 1 - len(head))  # "ò" straddles the first 1 MiB boundary
    data = head + padding + "ò\n".encode() + f"{CF2},Pu".encode() + b"\x92\n"
    table = _read(tmp_path, data)
    assert table.encoding == "utf-8"  # the only valid pair was split, and still counted
    assert table.frame.get_column("markdown").to_list()[0].endswith("xò")
    assert _cells(table) == [(3, "nome", "invalid_bytes", '0x92 in "Pu\\x92"')]


def test_a_clean_utf8_file_has_no_cell_problems_and_no_note(tmp_path: Path) -> None:
    data = ("\ufefffiscal_code,nome\n" + "\n".join(f"{c},Niccolò" for c in CODES)).encode()
    table = _read(tmp_path, data)
    assert (table.encoding, table.notes, table.cell_problems.height) == ("utf-8", (), 0)
    assert table.columns.names == ("fiscal_code", "nome")  # the BOM is not in the header


def test_invalid_bytes_in_a_header_are_noted_and_shown_as_replacement(
    tmp_path: Path,
) -> None:
    data = "fiscal_code,città\n".encode("cp1252") + f"{CF1},Forlì\n".encode()
    table = _read(tmp_path, data)
    assert table.encoding == "utf-8"
    assert table.columns.labels["citt"] == "citt\ufffd"
    assert any("column 2" in note and "0xE0" in note for note in table.notes)
    assert table.frame.get_column("citt").to_list() == ["Forlì"]


# -- whole files in a legacy code page ------------------------------------------------------


WINDOWS_TEXT = "codice_fiscale;nome;città\r\n" + "".join(
    f"{c};{n};{t}\r\n" for c, n, t in zip(
        CODES, ("D’Angelo", "Cantù", "Perché", "Niccolò"),
        ("Forlì", "Città di Castello", "Sant’Agata", "“Pesaro” – €"), strict=True)
)


def test_a_whole_windows_1252_file_is_read_with_its_accents(tmp_path: Path) -> None:
    table = _read(tmp_path, WINDOWS_TEXT.encode("cp1252"))
    assert table.encoding == "cp1252"
    assert table.frame.get_column("nome").to_list() == ["D’Angelo", "Cantù", "Perché",
                                                        "Niccolò"]
    assert table.frame.get_column("citta").to_list()[-1] == "“Pesaro” – €"
    assert table.cell_problems.height == 0
    assert any("not UTF-8" in note and "Windows-1252" in note for note in table.notes)


def test_an_accidental_utf8_pair_does_not_make_a_windows_file_utf8(tmp_path: Path) -> None:
    # "È’" is C8 92 in Windows-1252, also a valid UTF-8 sequence; the accents are not.
    rows = "".join(f"{CODES[i % 4]};Città {i};Forlì\r\n" for i in range(12))
    text = "cf;nome;nota\r\n" + rows + f"{CF1};PERCHÈ’;ok\r\n"
    table = _read(tmp_path, text.encode("cp1252"))
    assert table.encoding == "cp1252"
    assert table.frame.get_column("nome").to_list()[-1] == "PERCHÈ’"
    assert table.cell_problems.height == 0


def test_a_file_once_guessed_mac_roman_is_never_read_as_mac_roman(tmp_path: Path) -> None:
    # Mac Roman Italian: "Perchè" ends in 0x8F, a byte Windows-1252 does not define.
    data = f"cf,nome\n{CF1},Perch".encode() + b"\x8f\n" + f"{CF2},Luca\n".encode()
    with pytest.raises(CampaignFileError) as error:
        _read(tmp_path, data)
    reason = error.value.reason
    assert "0x8F on line 2" in reason and "--encoding mac_roman" in reason
    # named explicitly, it is read as the user says
    table = _read(tmp_path, data, encoding="mac_roman")
    assert (table.encoding, table.frame.get_column("nome").to_list()) == (
        "mac-roman", ["Perchè", "Luca"])


def test_a_mac_file_without_undefined_bytes_is_windows_1252_with_a_hint(
    tmp_path: Path,
) -> None:
    # Mac Roman "città" is 63 69 74 74 88: as Windows-1252 that reads "cittˆ"
    data = f"cf,nome\n{CF1},citt".encode() + b"\x88\n"
    table = _read(tmp_path, data)
    assert table.encoding == "cp1252"
    assert any("--encoding mac_roman" in note for note in table.notes)


def test_cp850_and_other_code_pages_only_when_named(tmp_path: Path) -> None:
    data = f"cf,nome\n{CF1},Forlì\n".encode("cp850")  # ì is 0x8D in DOS code page 850
    with pytest.raises(CampaignFileError, match="0x8D"):
        _read(tmp_path, data)
    table = _read(tmp_path, data, encoding="cp850")
    assert table.frame.get_column("nome").to_list() == ["Forlì"]
    assert table.notes == ("read as cp850 (--encoding)",)


def test_forcing_a_code_page_on_a_utf8_file_is_read_as_told_with_a_warning(
    tmp_path: Path,
) -> None:
    table = _read(tmp_path, f"cf,nome\n{CF1},Può\n".encode(), encoding="cp1252")
    assert table.frame.get_column("nome").to_list() == ["PuÃ²"]
    assert table.notes[0] == "read as cp1252 (--encoding)"
    assert "valid UTF-8 with 1 accented" in table.notes[1]


def test_a_forced_encoding_that_does_not_fit_names_the_byte_and_line(
    tmp_path: Path,
) -> None:
    data = f"cf,nome\n{CF1},ok\n{CF2},Cant".encode() + b"\xf9\n"
    with pytest.raises(CampaignFileError, match=r"0xF9 on line 3"):
        _read(tmp_path, data, encoding="utf-8")
    with pytest.raises(CampaignFileError, match="unknown encoding 'zlib'"):
        _read(tmp_path, data, encoding="zlib")  # a bytes-to-bytes codec is no text encoding


def test_nul_bytes_are_refused_as_binary_or_utf16_without_bom(tmp_path: Path) -> None:
    data = f"cf,nome\n{CF1},ok\n".encode("utf-16-le")
    with pytest.raises(CampaignFileError, match=r"NUL bytes.*UTF-16"):
        _read(tmp_path, data)
    assert _read(tmp_path, data, encoding="utf-16-le").frame.height == 1


# -- line endings --------------------------------------------------------------------------


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_lf_crlf_and_old_mac_cr_files_read_with_spreadsheet_rows(
    tmp_path: Path, eol: str, encoding: str
) -> None:
    text = eol.join([
        "cf,nome,testo",
        f'{CF1},Niccolò,"prima riga{eol}seconda riga"',
        f"{CF2},Lucia,breve",
        f'{CF3},"Perché, sì",fine',
    ]) + eol
    table = _read(tmp_path, text.encode(encoding))
    assert table.encoding == encoding
    assert table.frame.rows() == [
        (2, CF1, "Niccolò", "prima riga\nseconda riga" if eol != "\r\n" else
         "prima riga\r\nseconda riga"),  # rules.py turns CRLF into LF in the text
        (3, CF2, "Lucia", "breve"),
        (4, CF3, "Perché, sì", "fine"),
    ]


def test_a_cr_file_with_a_sep_line_and_blank_rows_keeps_its_numbers(tmp_path: Path) -> None:
    text = f"sep=;\rcf;nome\r{CF1};a\r\r;\r{CF2};b\r"
    table = _read(tmp_path, text.encode())
    assert table.delimiter == ";"
    assert [r[0] for r in table.frame.rows()] == [2, 5]


# -- messages: fiscal codes masked, other values shown ---------------------------------------


def test_a_parser_error_masks_the_fiscal_code_it_quotes(tmp_path: Path) -> None:
    data = f'cf,nome\n{CF1},ok\n"{CF2},Lucia\n'.encode()
    with pytest.raises(CampaignFileError) as error:
        _read(tmp_path, data)
    message = str(error.value)
    assert CF2 not in message
    assert mask_fiscal_code(CF2).replace("*", "") in message.replace("*", "")
    assert "quote is not closed" in message


def test_a_parser_error_shows_values_that_are_not_fiscal_codes(tmp_path: Path) -> None:
    data = f'cf,nome\n{CF1},ok\n"TOTALE,riga 3\n'.encode()
    with pytest.raises(CampaignFileError, match="TOTALE,riga 3"):
        _read(tmp_path, data)


def test_a_file_without_header_does_not_echo_a_fiscal_code(tmp_path: Path) -> None:
    # the first data row taken as the header: its two identical cells clash
    data = f"{CF1},{CF1}\n{CF2},{CF2}\n".encode()
    with pytest.raises(CampaignFileError) as error:
        _read(tmp_path, data)
    assert CF1 not in str(error.value)
    assert "both mean" in str(error.value)


def test_a_value_beyond_the_header_is_found_after_a_very_long_field(tmp_path: Path) -> None:
    data = f"cf,testo\n{CF1},{'x' * 200_000},,\n{CF2},b,surprise\n".encode()
    with pytest.raises(CampaignFileError, match="row 3 has more values"):
        _read(tmp_path, data)


def test_text_saved_under_an_excel_name_is_read_as_csv(tmp_path: Path) -> None:
    table = _read(tmp_path, f"cf\tnome\n{CF1}\tNiccolò\n".encode(), "export.xls")
    assert (table.kind, table.delimiter) == ("csv", "\t")
    assert table.notes == ("the file is named .xls but holds text: read as CSV",)


def test_a_broken_sep_line_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="sep= line"):
        _read(tmp_path, f'sep="\ncf,nome\n{CF1},a\n'.encode())


# -- no copy of the campaign outside its place (issue 13) ----------------------------------


def test_non_utf8_files_are_transcoded_in_memory_never_in_a_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # tempfile re-reads TMPDIR

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reader wrote a temporary file")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile",
                 "SpooledTemporaryFile", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, refuse)
    files = tmp_path / "in"
    files.mkdir()
    cases = {
        "cp1252.csv": (WINDOWS_TEXT.encode("cp1252"), None),
        "utf16.csv": (WINDOWS_TEXT.encode("utf-16"), None),
        "stray.csv": (WINDOWS_TEXT.encode() + f"{CF1};x;Pu".encode() + b"\x92\r\n", None),
        "forced.csv": (WINDOWS_TEXT.encode("cp1252"), "iso8859-15"),
        "cr.csv": (WINDOWS_TEXT.replace("\r\n", "\r").encode("cp1252"), None),
    }
    for name, (data, encoding) in cases.items():
        table = _read(files, data, name, encoding=encoding)
        assert table.frame.height >= 4, name
    assert os.listdir(temp) == []
    assert sorted(os.listdir(files)) == sorted(cases)


def test_a_windows_file_with_a_few_utf8_rows_is_utf8_with_the_other_rows_invalid(
    tmp_path: Path,
) -> None:
    """A file stitched from two encodings is never read whole as one of them (garbled)."""
    lines = ["cf;nome;nota"] + [f"{CODES[i % 4]};Città {i};Forlì" for i in range(12)]
    data = b"\r\n".join(line.encode("utf-8" if n in (3, 7, 11) else "cp1252")
                        for n, line in enumerate(lines)) + b"\r\n"
    table = _read(tmp_path, data)
    assert table.encoding == "utf-8"
    damaged = set(table.cell_problems.get_column("__row").to_list())
    assert damaged == set(range(2, 14)) - {4, 8, 12}  # the cp1252 rows; the UTF-8 ones read
    assert table.frame.filter(pl.col("__row") == 4).get_column("nome").item() == "Città 2"


def test_a_utf8_byte_order_mark_means_utf8_even_over_a_windows_body(tmp_path: Path) -> None:
    text = "cf;nome\r\n" + "".join(f"{CODES[i % 4]};Città {i}\r\n" for i in range(30))
    table = _read(tmp_path, codecs.BOM_UTF8 + text.encode("cp1252"))
    assert table.encoding == "utf-8"
    assert table.columns.names[0] == "fiscal_code"  # the mark is not part of the header
    assert table.cell_problems.height == 30
