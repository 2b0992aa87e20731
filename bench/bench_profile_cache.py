"""What the profile cache and the subscriptions feed save on a nightly repeat (issue 6).

A campaign sent every night to the same people pays one ``POST /profiles`` per recipient plus
one ``POST /messages`` per reachable one: about two requests per message. With
``run --profile-cache`` and a nightly ``feed sync``, the repeat asks IO only about the
citizens the feed says changed, so it should cost ≤ 1.2 requests per message.

The scenario, against the simulator in its own process (default population: 10 % without IO,
5 % blocking the service):

1. **first night**: the 5,000-row TARI campaign with an empty cache (every answer is cached).
2. **during the day**: 2 % of the recipients change (those who allowed the service block it,
   those who blocked it allow it, those without IO sign up) through the simulator's control
   surface; IO writes each change into that day's feed.
3. **the next night**: the simulator's clock moves one day on (the day's feed is published at
   00:00 UTC), the dispatcher's clock for the cache too; ``feed sync`` applies the day.
4. **repeat**: a reminder (the same file with a second template, so the same recipients get a
   new message; the same ledger, so the default cache next to it is shared) with
   ``--profile-cache 36h``: a nightly job's entries are ~24 h old the next night, so a TTL of
   exactly 24 h would just miss them.

Requests per message = every request the night made (feed included) / messages sent; counted
by the simulator (``/__sim__/stats``, by endpoint), not by the client. The changed recipients'
outcomes are checked against their new state: a stale cache entry would show as a mismatch.

    python bench/bench_profile_cache.py
    python bench/bench_profile_cache.py --recipients 1000 --rate 120/5s --sim-rate 150/5s
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_dispatch import Simulator, simulator  # noqa: E402
from generate import tari_rows, write_csv  # noqa: E402

from dispatcher.campaign import CampaignSource  # noqa: E402
from dispatcher.ledger import Ledger  # noqa: E402
from dispatcher.logs import configure_logging  # noqa: E402
from dispatcher.operations.feed_sync import FeedSyncReport, sync_feed  # noqa: E402
from dispatcher.operations.run import RunOptions, run_campaign  # noqa: E402
from dispatcher.operations.run import RunResult as RunSummary  # noqa: E402
from dispatcher.paths import default_ledger_path  # noqa: E402
from dispatcher.profilecache import (  # noqa: E402
    ProfileCacheUse,
    default_cache_path,
)
from dispatcher.settings import RateSpec, Secret, Settings  # noqa: E402
from dispatcher.simulator import DEFAULT_SERVICE_ID, DEMO_KEY  # noqa: E402
from dispatcher.stopping import StopOptions  # noqa: E402
from dispatcher.vocabulary import RowState  # noqa: E402

TEMPLATE = ROOT / "sample_data" / "tari_2027.toml"
KEY = DEMO_KEY.key
DAY_S = 86_400.0
TTL_S = 36 * 3600.0
TARGET = 1.2


@dataclass
class Night:
    summary: RunSummary
    requests: Counter[str]  # by endpoint, as the simulator counted them

    @property
    def sent(self) -> int:
        return self.summary.counts[RowState.SENT]

    def per_message(self, extra: int = 0) -> float:
        return (sum(self.requests.values()) + extra) / max(1, self.sent)


def endpoint_counts(sim: Simulator) -> Counter[str]:
    return Counter(sim.control.stats()["requests"])


def settings_for(sim: Simulator, args: argparse.Namespace) -> Settings:
    """The bench's own send journal, in its work directory (never the user's state)."""
    return Settings(base_url=sim.base_url, api_key=Secret(KEY), rate=RateSpec.parse(args.rate),
                    concurrency=args.concurrency, journal=args.workdir / "journal.sqlite")


def night(sim: Simulator, args: argparse.Namespace, campaign: Path, template: Path,
          ledger: Path, *, shift_s: float) -> Night:
    """One ``run --profile-cache 36h`` whose wall clock (for the cache) is ``shift_s`` ahead."""
    before = endpoint_counts(sim)
    summary = run_campaign(
        CampaignSource(campaign, template), settings=settings_for(sim, args),
        ledger_path=ledger,
        options=RunOptions(stops=StopOptions(handle_signals=False), profile_cache=ProfileCacheUse(
            default_cache_path(ledger), TTL_S, clock=lambda: time.time() + shift_s)),
    )
    after = endpoint_counts(sim)
    after.subtract(before)
    return Night(summary, +after)


def change_recipients(sim: Simulator, codes: list[str], share: float, seed: int
                      ) -> dict[str, str]:
    """Flip ``share`` of the recipients today (UTC); returns code → its new expected state."""
    rng = random.Random(seed)
    expected: dict[str, str] = {}
    for code in rng.sample(codes, round(share * len(codes))):
        view = sim.control.citizen(code)
        if not view["has_profile"]:
            sim.control.citizen(code, has_profile=True)  # signs up, in AUTO mode: allows
        elif view["sender_allowed"][DEFAULT_SERVICE_ID]:
            sim.control.citizen(code, sender_allowed=False, service_id=DEFAULT_SERVICE_ID)
        else:
            sim.control.citizen(code, sender_allowed=True, service_id=DEFAULT_SERVICE_ID)
        now = sim.control.citizen(code)
        expected[code] = ("no_profile" if not now["has_profile"] else "sent"
                          if now["sender_allowed"][DEFAULT_SERVICE_ID] else "sender_not_allowed")
    return expected


def sync(sim: Simulator, args: argparse.Namespace, cache_path: Path, today: date
         ) -> FeedSyncReport:
    """``dispatcher feed sync`` through its API, as tonight (``today``) would run it."""
    return sync_feed(settings=settings_for(sim, args), cache_path=cache_path, today=today).report


def reminder_template(workdir: Path) -> Path:
    text = TEMPLATE.read_text(encoding="utf-8").replace(
        'subject = "TARI 2027: il suo avviso di pagamento"',
        'subject = "TARI 2027: promemoria di pagamento"')
    path = workdir / "tari_2027_promemoria.toml"
    path.write_text(text, encoding="utf-8")
    return path


def print_night(name: str, result: Night, *, extra: int = 0) -> None:
    counts = {s.value: n for s, n in result.summary.counts.items() if n}
    cache = result.summary.profile_cache
    hits = f"{cache.hit_total:,} rows from the cache" if cache else "no cache"
    by_endpoint = dict(sorted(result.requests.items()))
    total = sum(result.requests.values()) + extra
    print(f"  {name:<8} {result.summary.duration_s:6.1f} s; requests {total:,} "
          f"{by_endpoint}{' + feed ' + str(extra) if extra else ''}; profile checks "
          f"{result.requests.get('profiles', 0):,}; {hits}")
    print(f"           rows {counts}")
    print(f"           → {result.per_message(extra):.3f} requests per message "
          f"({result.sent:,} sent)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--changed", type=float, default=0.02, help="share changed by day")
    parser.add_argument("--rate", default="1200/5s", help="the dispatcher's budget")
    parser.add_argument("--sim-rate", default="1500/5s", help="the simulator's window")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_profile_cache_"))
    workdir.mkdir(parents=True, exist_ok=True)
    log_stream = (workdir / "dispatcher.log").open("w", encoding="utf-8")
    configure_logging(json=True, level=logging.INFO, stream=log_stream, secrets=(KEY,))
    campaign = workdir / "tari.csv"
    rows = list(tari_rows(args.recipients, args.seed))
    write_csv(campaign, rows)
    ledger = default_ledger_path(campaign)
    print(f"profile cache + subscriptions feed: {args.recipients:,} recipients, "
          f"{args.changed:.0%} changed by day, --rate {args.rate} against a {args.sim_rate} "
          f"window, concurrency {args.concurrency}; work directory {workdir}")
    with simulator(args.sim_rate, workdir) as sim:
        first = night(sim, args, campaign, TEMPLATE, ledger, shift_s=0.0)
        print_night("first", first)
        today = datetime.now(UTC).date()
        expected = change_recipients(sim, [r[0] for r in rows], args.changed, args.seed)
        moves = Counter(expected.values())
        print(f"  day      {len(expected)} recipients changed today; their new state: "
              f"{dict(sorted(moves.items()))}")
        sim.control.advance_clock(DAY_S)
        report = sync(sim, args, default_cache_path(ledger), today + timedelta(days=1))
        print(f"  sync     days {[d.isoformat() for d in report.applied]} applied, "
              f"{sum(d.subscriptions for d in report.days)} subscriptions + "
              f"{sum(d.unsubscriptions for d in report.days)} unsubscriptions, "
              f"{report.invalidated} cache entries dropped, {report.requests} request(s)"
              + (f"; not published: {report.not_available}" if report.not_available else ""))
        repeat = night(sim, args, campaign, reminder_template(workdir), ledger, shift_s=DAY_S)
        print_night("repeat", repeat, extra=report.requests)
    with Ledger.open(ledger) as opened:
        latest = opened.campaigns.latest()
        assert latest is not None
        states = {r.fiscal_code: r.state.value for r in opened.rows.all(latest.campaign_id)}
    wrong = {code: (want, states.get(code)) for code, want in expected.items()
             if states.get(code) != want}
    print(f"  changed  {len(expected) - len(wrong)}/{len(expected)} changed recipients got "
          f"the outcome of their new state (a stale cache entry would not)"
          + (f"; MISMATCHES {list(wrong.values())[:5]}" if wrong else ""))
    ratio = repeat.per_message(report.requests)
    print(f"  result   first {first.per_message():.3f} → repeat {ratio:.3f} requests per "
          f"message (target ≤ {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    log_stream.close()


if __name__ == "__main__":
    main()
