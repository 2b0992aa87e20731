"""IO's error answers in the report's language, and everything else marked for what it is.

The ledger keeps a row's detail as it came: IO's ProblemJson ``title: detail``, APIM's
message, or our own words for a transport error or an invalid row. The titles IO sends are a
short, stable list (FACTS §2.1, §2.4); those are translated here. Whatever is not on the list
is shown as it is, but *marked*: "IO's text: «…»" for an answer of IO, "recorded detail: «…»"
for ours, so an Italian page never slips English in silently and the office knows which words
came from IO (useful when asking IO's support about them).
"""

from __future__ import annotations

from dispatcher.report.labels import N_, Language, tr

__all__ = ["KNOWN_TITLES", "explain_detail"]

KNOWN_TITLES: dict[str, str] = {
    "Recipient forbidden": N_(
        "IO does not let this key write to this citizen (a test key reaches only its "
        "authorised recipients)"),
    "Production call forbidden": N_(
        "the service's key may not send messages in production"),
    "You are not allowed here": N_(
        "the service lacks an IO permission this message needs (Premium, payee, remote "
        "content) or calls from an address IO does not allow"),
    "No configuration id for remote content": N_(
        "remote content without its configuration_id"),
    "Not your configuration": N_(
        "the remote-content configuration belongs to another ente"),
    "Attachments call forbidden": N_(
        "attachments need a Premium (ADVANCED) message"),
    "Invalid message structure": N_("IO found the message malformed"),
    "Bad parameters": N_("IO found the request malformed"),
    "Error while sending payment metadata": N_(
        "the amount is above the service's maximum payment amount (set it in IO's back "
        "office)"),
    "Profile not found": N_("no IO profile, or the citizen's inbox is off"),
    "Invalid FiscalCodePayload": N_("IO did not accept the fiscal code"),
    "Internal server error": N_("an internal error at IO"),
    "User has no valid scopes": N_("the key has no permission at IO"),
    "Anonymous user": N_("IO did not recognise the key"),
    "Too Many Requests": N_("IO's request limit was reached"),
}
"""IO's ProblemJson titles (matched ignoring case), with what they mean for the office."""

_PREFIXES = ("profile check: ",)
"""What our pipeline puts before IO's words (the check that got the answer)."""


def _split(text: str) -> tuple[str | None, str]:
    """(the known title the text starts with, the rest of IO's words)."""
    lowered = text.lower()
    for title in KNOWN_TITLES:
        if lowered.startswith(title.lower()):
            return title, text[len(title):].lstrip(" :.-")
    return None, text


def explain_detail(detail: str | None, http_status: int | None,
                   lang: Language | str = Language.IT) -> str | None:
    """A row's recorded detail for a person: IO's known titles translated, the rest marked.

    ``http_status`` tells IO's answers (4xx/5xx) from our own details (a transport error
    has none; a profile answer of 200 or an invalid row is ours).
    """
    if not detail:
        return None
    t = tr(lang)
    text = detail
    for prefix in _PREFIXES:
        text = text.removeprefix(prefix)
    title, rest = _split(text)
    if title is not None:
        meaning = t.gettext(KNOWN_TITLES[title])
        if not rest:
            return t.gettext("IO: {meaning}").format(meaning=meaning)
        return t.gettext("IO: {meaning} (IO's text: «{text}»)").format(meaning=meaning,
                                                                          text=rest)
    if http_status is not None and http_status >= 400:
        return t.gettext("IO's text: «{text}»").format(text=text)
    if lang == Language.EN:
        return text  # our own words are English: nothing to mark
    return t.gettext("recorded detail (not translated): «{text}»").format(text=text)
