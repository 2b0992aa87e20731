"""Shared constants and helpers for the campaign tests (fixtures live in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from io_spec import SPEC_DIR as SPEC_DIR  # re-exported: the one definition is io_spec.py

from dispatcher.campaign import Campaign

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "campaign"
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # due dates in 2027 are in the future

# Valid fiscal codes (check characters computed by python-stdnum).
CF1 = "DNGNCL87P28L736E"
CF2 = "CNTLCU87R57L219G"
CF3 = "PRCJSO53P26L736M"
CF4 = "FRLNNA53M44G273J"
SUBJECT = "Avviso di pagamento TARI 2027"
MARKDOWN = ("Gentile contribuente le ricordiamo la scadenza del pagamento della tassa sui "
            "rifiuti. Grazie.")
assert len(MARKDOWN) >= 80


def codes_by_row(campaign: Campaign) -> dict[int, list[str]]:
    """{row: [problem codes]} for every row that has any problem."""
    out: dict[int, list[str]] = {}
    for problem in campaign.problems:
        out.setdefault(problem.row, []).append(problem.code.value)
    return out


def rows_csv(*rows: str, header: str = "fiscal_code,subject,markdown") -> str:
    return "\n".join((header, *rows)) + "\n"


def row(code: str = CF1, subject: str = SUBJECT, markdown: str = MARKDOWN, *extra: str) -> str:
    return ",".join((code, subject, markdown, *extra))
