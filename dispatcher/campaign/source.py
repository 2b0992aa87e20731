"""Where a campaign comes from: its file, its template and how to read them.

A resumed run must not validate and render a million rows again only to learn that nothing
changed: :meth:`CampaignSource.fingerprint` hashes the bytes of the file and the template
(the same SHA-256 digests :class:`~dispatcher.campaign.Campaign` records), and only a source
whose fingerprint is new is :meth:`loaded <CampaignSource.load>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from dispatcher.campaign.campaign import Campaign, CampaignOptions, load_campaign
from dispatcher.campaign.problems import CampaignFileError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Fingerprint:
    """The SHA-256 of the campaign file and of its template (None without one)."""

    input_sha256: str
    template_sha256: str | None


@dataclass(frozen=True)
class CampaignSource:
    path: Path
    template: Path | None = None
    options: CampaignOptions = field(default_factory=CampaignOptions)

    def fingerprint(self) -> Fingerprint:
        """Hash the bytes only; raises :class:`CampaignFileError` for an unreadable file."""
        return Fingerprint(file_sha256(Path(self.path)),
                           file_sha256(Path(self.template)) if self.template else None)

    def load(self) -> Campaign:
        """Read, validate and prepare the rows (file-level problems raise)."""
        return load_campaign(Path(self.path), template=self.template, options=self.options)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, as the ledger records the campaign's input and template."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except IsADirectoryError:
        raise CampaignFileError(path, "is a directory, not a campaign file") from None
    except OSError as exc:
        raise CampaignFileError(path, f"cannot read the file: {exc.strerror}") from None
    return digest.hexdigest()
