"""Where a campaign's own files live: ``FILE.dispatcher/`` next to the campaign file.

Commands accept the campaign file, that folder, or a file inside it, and must agree on what
each means; this is the one place that says so.
"""

from __future__ import annotations

from pathlib import Path

CAMPAIGN_SUFFIXES = (".csv", ".xlsx", ".txt")
"""A path ending so names a campaign file, not a ledger or a cache."""


def is_campaign_file(path: Path) -> bool:
    return path.suffix.lower() in CAMPAIGN_SUFFIXES


def campaign_folder(campaign_path: Path) -> Path:
    """``tari.csv`` → ``tari.dispatcher``: the ledger, exports and cache of that file."""
    return campaign_path.with_name(campaign_path.stem + ".dispatcher")


def default_ledger_path(campaign_path: Path) -> Path:
    """``campaign.csv`` → ``campaign.dispatcher/ledger.sqlite`` next to the input file."""
    return campaign_folder(campaign_path) / "ledger.sqlite"
