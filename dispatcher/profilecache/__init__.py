"""The profile cache: what ``POST /profiles`` answered for each recipient, so nightly repeats
of a campaign can skip most checks (``run --profile-cache TTL``).

One SQLite file (WAL, mode 0600) per IO service, by default ``FILE.dispatcher/profiles.sqlite``
next to the ledger. It holds **no fiscal code**: each recipient is the hash IO's subscriptions
feed uses, ``lower(hex(sha256(upper(CF))))`` (FACTS §2.3), with the decision (``allowed``,
``not_allowed``, ``no_profile``) and when it was checked. Answers that decide nothing about the
citizen (``rejected``, ``failed``) are never cached.

Why it is safe to skip a check: IO checks consent again when it processes a message, so a stale
``allowed`` costs at most a message that IO marks ``REJECTED``, never a message to someone who
opted out. A stale ``not_allowed``/``no_profile`` costs a message not sent; the feed, applied by
``dispatcher feed sync``, covers the ordinary changes (profile created or deleted, service
enabled or disabled), and the TTL bounds the rest (an inbox re-enabled is not in the feed).

When a cached decision is trusted (:meth:`ProfileCache.lookup`):

* it is younger than the TTL; and
* **no unsynced feed day could contradict it**: every UTC day from the day it was checked up
  to yesterday has been applied. Applying a day deletes every hash it lists (subscriptions and
  unsubscriptions alike: the next run checks those citizens for real), so an entry that
  survives all days since its check was not changed by anything the feed knows. Events of
  *today* cannot be known (IO publishes day D at D+1 00:00 UTC); the TTL bounds that window.
  An entry checked before an unsynced day is a miss, not an error: a cache that is never
  synced still serves same-day reruns and costs nothing but the checks it cannot save.
* The midnight race: a check made on day D but written after day D's feed was applied could
  have missed an event of D that came after it. Such a write is dropped (:meth:`remember`).

The cache is tied to one service: its ``meta`` table records a fingerprint of the base URL
and API key (:func:`service_fingerprint`); opening it with another is refused, never silently
used, because consent is per service.

All methods are synchronous and guarded by one lock: the pipeline looks up from the event
loop (microseconds, by primary key) and writes batches from one worker thread.
"""

from dispatcher.profilecache.cache import (
    CACHEABLE,
    MAX_FEED_DAYS,
    SCHEMA_VERSION,
    CachedDecision,
    ProfileCache,
    ProfileCacheError,
    default_cache_path,
    fiscal_code_hash,
    service_fingerprint,
    utc_day,
)
from dispatcher.profilecache.use import (
    CachedProfiles,
    ProfileCacheStats,
    ProfileCacheUse,
)

__all__ = [
    "CACHEABLE",
    "MAX_FEED_DAYS",
    "SCHEMA_VERSION",
    "CachedDecision",
    "CachedProfiles",
    "ProfileCache",
    "ProfileCacheError",
    "ProfileCacheStats",
    "ProfileCacheUse",
    "default_cache_path",
    "fiscal_code_hash",
    "service_fingerprint",
    "utc_day",
]
