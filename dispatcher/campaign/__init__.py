"""The campaign input room: read any real-world campaign file, find every problem, render.

Everything the rest of dispatcher needs is here::

    campaign = load_campaign(path, template=template_path, options=CampaignOptions())
    campaign.has_errors, campaign.invalid_by_reason(), campaign.first_problems(20)
    for row in campaign.rows():   # every data row, in file order, built lazily
        row.state, row.payload, row.content_hash, row.problems

File-level problems (unreadable, empty, no fiscal code column, too many rows, a broken
template) raise :class:`CampaignFileError`; row-level ones are :class:`Problem` values.
"""

from dispatcher.campaign.campaign import (
    Campaign,
    CampaignOptions,
    CampaignRow,
    RowState,
    load_campaign,
)
from dispatcher.campaign.problems import (
    CampaignFileError,
    Problem,
    ProblemCode,
    Severity,
    message_for,
)

__all__ = [
    "Campaign",
    "CampaignFileError",
    "CampaignOptions",
    "CampaignRow",
    "Problem",
    "ProblemCode",
    "RowState",
    "Severity",
    "load_campaign",
    "message_for",
]
