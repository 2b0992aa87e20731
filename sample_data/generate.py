"""Generate synthetic TARI payment-notice campaigns with real-looking, valid fiscal codes.

Fiscal codes follow the real rules (surname and name letters, birth date, place, check
character computed by python-stdnum), some with omocodia; notice numbers are 18 digits with
pagoPA's check digits, and a third start with 0 (so a spreadsheet that drops leading zeros
breaks them).
Output is deterministic for a given seed.

    python sample_data/generate.py --rows 1000000 --seed 7 --out bench/out/tari_1m.csv
    python sample_data/generate.py --samples      # rewrite the committed sample files

The people are invented; any match with a real person is a coincidence.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from pathlib import Path

from stdnum.it import codicefiscale

HERE = Path(__file__).resolve().parent
HEADER = ("codice_fiscale", "nome", "cognome", "indirizzo", "importo", "codice_avviso",
          "scadenza")
FIRST_NAMES_M = ("Mario", "Luigi", "Giuseppe", "Francesco", "Antonio", "Marco", "Andrea",
                 "Matteo", "Lorenzo", "Davide", "Nicolò", "Gabriele", "Riccardo", "Tommaso")
FIRST_NAMES_F = ("Giulia", "Francesca", "Chiara", "Sara", "Martina", "Anna", "Elena",
                 "Alessia", "Sofia", "Aurora", "Beatrice", "Ginevra", "Lucia", "Noemi")
SURNAMES = ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo",
            "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini",
            "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti", "Barbieri", "Fontana",
            "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone",
            "D'Angelo", "Longo", "Gentile", "Martinelli", "Vitale", "Lombardo", "Serra")
STREETS = ("Via Roma", "Via Garibaldi", "Via Mazzini", "Corso Italia", "Via Dante",
           "Piazza della Libertà", "Via Cavour", "Via Verdi", "Viale Europa", "Via Manzoni")
PLACES = ("H501", "F205", "F839", "L219", "G273", "A944", "D612", "L736", "D969", "A662")
MONTHS = "ABCDEHLMPRST"
OMOCODIA = "LMNPQRSTUV"
OMOCODE_POSITIONS = (14, 13, 12, 10, 9, 7, 6)  # replaced from the right, as the law says
VOWELS = set("AEIOU")


def _letters(text: str) -> str:
    return "".join(ch for ch in text.upper() if "A" <= ch <= "Z")


def surname_code(surname: str) -> str:
    letters = _letters(surname)
    consonants = [c for c in letters if c not in VOWELS]
    vowels = [c for c in letters if c in VOWELS]
    return ("".join(consonants + vowels) + "XXX")[:3]


def name_code(name: str) -> str:
    letters = _letters(name)
    consonants = [c for c in letters if c not in VOWELS]
    if len(consonants) >= 4:
        return consonants[0] + consonants[2] + consonants[3]
    vowels = [c for c in letters if c in VOWELS]
    return ("".join(consonants + vowels) + "XXX")[:3]


def fiscal_code(rng: random.Random, name: str, surname: str, female: bool,
                omocodes: int = 0) -> str:
    """A valid code for an invented person; ``omocodes`` digits replaced by letters."""
    year = rng.randint(1930, 2005) % 100
    day = rng.randint(1, 28) + (40 if female else 0)
    body = (surname_code(surname) + name_code(name) + f"{year:02d}" + rng.choice(MONTHS)
            + f"{day:02d}" + rng.choice(PLACES))
    chars = list(body)
    for position in OMOCODE_POSITIONS[:omocodes]:
        chars[position] = OMOCODIA[int(chars[position])]
    body = "".join(chars)
    return body + codicefiscale.calc_check_digit(body)


def notice_number(rng: random.Random) -> str:
    """Aux digit 0 or 3, then 15 random digits and the pagoPA check digits.

    The check digits are the remainder modulo 93 of the 16 digits before them (SACI; see
    ``dispatcher.campaign.values.notice_check_digits``). The random draw is the same 17 digits
    as before the check digits were computed, so every other column keeps its value.
    """
    aux = "0" if rng.random() < 0.33 else "3"
    first_16 = (aux + "".join(rng.choices("0123456789", k=17)))[:16]
    return first_16 + f"{int(first_16) % 93:02d}"


def tari_rows(count: int, seed: int) -> Iterator[tuple[str, ...]]:
    """``count`` distinct people with their TARI notice, deterministic for ``seed``."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        female = rng.random() < 0.5
        name = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        surname = rng.choice(SURNAMES)
        omocodes = rng.choice((1, 2, 3)) if rng.random() < 0.002 else 0
        code = fiscal_code(rng, name, surname, female, omocodes)
        if code in seen:
            continue
        seen.add(code)
        address = f"{rng.choice(STREETS)} {rng.randint(1, 200)}"
        amount = str(rng.randint(4_000, 95_000))
        yield (code, name, surname, address, amount, notice_number(rng), "31/01/2027")


def write_csv(path: Path, rows: Iterator[tuple[str, ...]] | list[tuple[str, ...]], *,
              delimiter: str = ";", bom: bool = True) -> None:
    """Like Excel's "CSV UTF-8" in an Italian locale: ``;`` and a byte order mark."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def _with_check(body: str) -> str:
    return body + codicefiscale.calc_check_digit(body)


def sample_rows() -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """(clean rows, rows with the deliberate errors described in sample_data/README.md)."""
    clean = list(tari_rows(200, seed=2027))
    broken = [list(r) for r in clean]

    def at(row: int) -> list[str]:  # spreadsheet row number: header is row 1
        return broken[row - 2]

    code = at(5)[0]
    at(5)[0] = code[:-1] + ("A" if code[-1] != "A" else "B")  # check character
    at(12)[0] = " " + at(12)[0].lower()[:6] + " " + at(12)[0].lower()[6:] + "\u200b"
    at(18)[0] = "80012345678"  # 11 digits: temporary / company code
    at(23)[4] = "125,50"  # euros, not cents
    at(31)[5] = at(31)[5].lstrip("0") if at(31)[5].startswith("0") else at(31)[5][1:]
    at(40)[6] = "31/02/2027"  # no such day
    at(47)[1] = ""  # {nome} has no value
    at(55)[0] = clean[9 - 2][0]  # same person as row 9
    at(63)[0] = _omocode(at(63)[0])  # valid omocodia
    at(70)[4] = "0"  # out of range
    at(88)[5] = ""  # amount without notice number
    at(101)[0] = at(101)[0][:15]  # one character short
    at(120)[3] = "Via Roma 1<br>scala B"  # raw HTML reaches the text
    code = at(150)[0]
    at(150)[0] = _with_check(code[:9] + "32" + code[11:15])  # 32nd day
    return clean, [tuple(r) for r in broken]


def _omocode(code: str) -> str:
    chars = list(code[:15])
    chars[14] = OMOCODIA[int(chars[14])]
    return _with_check("".join(chars))


def write_samples() -> None:
    clean, broken = sample_rows()
    write_csv(HERE / "tari_2027_clean.csv", clean)
    write_csv(HERE / "tari_2027.csv", broken)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("tari.csv"))
    parser.add_argument("--delimiter", default=";")
    parser.add_argument("--samples", action="store_true", help="rewrite the committed samples")
    args = parser.parse_args()
    if args.samples:
        write_samples()
        return
    write_csv(args.out, tari_rows(args.rows, args.seed), delimiter=args.delimiter)
    print(f"{args.out}: {args.rows:,} rows")


if __name__ == "__main__":
    main()
