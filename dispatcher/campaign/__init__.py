"""The campaign input room: read any real-world campaign file, find every problem, render.

Everything the rest of dispatcher needs is here::

    campaign = load_campaign(path, template=template_path, options=CampaignOptions())
    campaign.has_errors, campaign.invalid_by_reason(), campaign.first_problems(20)
    for row in campaign.rows():   # every data row, in file order, built lazily
        row.state, row.message, row.content_hash, row.problems

File-level problems (unreadable, empty, no fiscal code column, too many rows, a broken
template) raise :class:`CampaignFileError`; row-level ones are :class:`Problem` values; a
template mistake that fails every row it reaches (an unknown placeholder, a subject out of
IO's limits) is one :class:`FileProblem` in ``campaign.file_problems``, with the rows it hits.

Decisions, each explained where it is implemented:

* Row numbers are spreadsheet rows: header = 1, first data record = 2; a quoted field with
  line breaks stays one row; blank rows keep their number but are not data rows (reader.py).
* Templates are TOML, or Markdown with ``+++`` TOML front matter; placeholders are
  ``{column}`` or ``{column|helper}``; a non-empty ``subject``/``markdown`` cell overrides the
  template for its row (template.py).
* Dates without a zone are Italian time; a date alone is 23:59:59 of that day in Italy; the
  payload carries UTC ``...Z``. ``31/01/2027`` is accepted (values.py).
* Amounts are cents unless the template (or options) say ``amount_unit = "euro"``; euro
  amounts convert exactly, without floats (values.py).
* One message per fiscal code: the first *valid* row wins, later valid rows are duplicates;
  duplicates are not errors (campaign.py).
"""

from dispatcher.campaign.campaign import (
    Campaign,
    CampaignOptions,
    CampaignRow,
    NoSuchRows,
    load_campaign,
)
from dispatcher.campaign.file_problems import FileProblem
from dispatcher.campaign.problems import (
    CampaignFileError,
    Problem,
    ProblemCode,
    Severity,
    message_for,
)
from dispatcher.campaign.source import CampaignSource, Fingerprint

__all__ = [
    "Campaign",
    "CampaignFileError",
    "CampaignOptions",
    "CampaignRow",
    "CampaignSource",
    "FileProblem",
    "Fingerprint",
    "NoSuchRows",
    "Problem",
    "ProblemCode",
    "Severity",
    "load_campaign",
    "message_for",
]
