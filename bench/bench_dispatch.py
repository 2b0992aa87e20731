"""How much of IO's request budget ``dispatcher run`` turns into answers, and what it costs.

(Over 400 lines: four scenarios and their reporting share one simulator harness.)

IO admits 150 requests per 5 s per ente (FACTS.md §6). Every request the dispatcher wastes (a
429) or leaves unspent (pacing too cautiously, recovering too slowly) makes a campaign longer,
so issue 4 asks for four numbers, each printed here against its target:

* **precise**: ``--rate 150/5s`` against the simulator's 150/5 s window. Goodput (answers that
  are not 429, per second) as a % of the 30 req/s ceiling (target ≥ 97 %), and the share of
  answers that were 429 (target ≤ 1 %).
* **adaptive**: ``--rate 300/5s`` (twice the budget) against the same window: the Pacer must find
  the ceiling from the 429s and ``x-rate-limit-remaining`` alone (≥ 90 %, ≤ 3 % 429).
* **competitor**: the adaptive run while a second key of the *same* ente spends 10 req/s (a third
  of the budget) for a while, then stops. Goodput is compared with what is left to us (the
  ceiling less what the competitor got through); recovery is the time from the competitor's
  last request until our per-second goodput is back at ≥ 90 % of the ceiling (target ≤ 30 s).
* **overhead**: the same campaign against an unlimited simulator, dispatcher (rate far above
  anything reachable) vs a bare ``httpx`` loop making the same requests with as many in flight
  (``2 × concurrency``: the pipeline runs that many profile + submit workers). Target ≥ 70 %.
  Both sides are bound by httpx's own CPU (its pool costs more per request the more connections
  it holds and the more requests are in flight), so a ratio near or above 100 % is normal: the
  pipeline, waiting on ledger commits, often has fewer requests in flight than the bare loop.

How the numbers are taken. The simulator runs as a separate process (``python -m dispatcher
simulator``) so client and server use different cores; the competitor is a third process. The
headline goodput comes from the **simulator's counters** (``/__sim__/stats`` before and after
the run, less what the competitor reports for itself) divided by the run's wall time
(``RunSummary.duration_s``); the client's view (``RunSummary.requests − throttled``) is printed
under it as a cross-check. Per-phase goodput and the recovery time come from the Pacer's
per-second timeline (``run_seconds`` in the ledger: admissions − 429s per second). Peak RSS is
this (client) process's. Timelines are written as CSV to the work directory for a closer look.
The header prints a digest of dispatcher's sources, and a warning if they change mid-run.

The population is the simulator's default (10 % without a profile, 5 % blocking the service),
so a run makes one profile check per recipient plus one send per allowed one (≈ 1.85 requests
per recipient: 5,000 recipients ≈ 9,250 requests ≈ 5 min at 30 req/s). Every run is bounded by
the campaign's size and a deadline. Nothing is asserted: timings depend on the machine and its
neighbours (on 2 cores, client, simulator and competitor share them), so read a miss of a point
or two as noise unless it repeats.

    python bench/bench_dispatch.py                      # the full issue spec (~18 min)
    python bench/bench_dispatch.py --recipients 1000 --only precise --only overhead
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "sample_data"))

from generate import tari_rows, write_csv  # noqa: E402

from dispatcher.campaign import CampaignSource, load_campaign  # noqa: E402
from dispatcher.ioapi.client import DEFAULT_USER_AGENT  # noqa: E402
from dispatcher.ledger import Ledger, TimelineSample  # noqa: E402
from dispatcher.logs import configure_logging  # noqa: E402
from dispatcher.operations.run import RunHooks, RunOptions, run_campaign  # noqa: E402
from dispatcher.operations.run import RunResult as RunSummary  # noqa: E402
from dispatcher.pacing import PacerStatistics  # noqa: E402
from dispatcher.settings import RateSpec, Secret, Settings  # noqa: E402
from dispatcher.simulator import DEMO_KEY, SANDBOX_FISCAL_CODE, SimulatorControl  # noqa: E402
from dispatcher.stopping import StopOptions  # noqa: E402
from dispatcher.vocabulary import InputVerdict  # noqa: E402

TEMPLATE = ROOT / "sample_data" / "tari_2027.toml"
KEY = DEMO_KEY.key
RIVAL_KEY = "rival-key"
POLICY = "150/5s"
CEILING = 150 / 5.0  # req/s the policy admits
SCENARIOS = ("precise", "adaptive", "competitor", "overhead")
REQUESTS_PER_RECIPIENT = 1.85  # profile for all, send for the 85 % who allow the service
RECOVERY_SHARE = 0.9  # "back at full rate" = per-second goodput ≥ 90 % of the ceiling
RECOVERY_SMOOTHING = 3  # seconds averaged, so one lucky second does not count as recovered


# --- the simulator, in its own process ----------------------------------------------------------


@dataclass
class Simulator:
    """A ``python -m dispatcher simulator`` child process and its control client."""

    process: subprocess.Popen[str]
    url: str
    control: SimulatorControl

    @property
    def base_url(self) -> str:
        return self.url + "/api/v1"

    def answered(self) -> Counter[str]:
        """Answers so far by status code (``no_response`` included), all keys together."""
        return Counter(self.control.stats()["status_codes"])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def simulator(rate: str, workdir: Path, *, rival: bool = False) -> Iterator[Simulator]:
    """Serve a fresh simulator with window ``rate`` (and a second key of the ente if ``rival``)."""
    command = [sys.executable, "-m", "dispatcher", "simulator", "--port", "0", "--rate", rate]
    if rival:
        command += ["--keys-file", str(_keys_file(workdir))]
    with (workdir / "simulator.log").open("a", encoding="utf-8") as errors:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors,
                                   text=True)
    try:
        url = _announced_url(process)
        control = SimulatorControl(url + "/__sim__")
        try:
            control._call("GET", "/health")
            yield Simulator(process, url, control)
        finally:
            control.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _announced_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/api/v1", line)
    if not match:
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return match.group(1)


def _keys_file(workdir: Path) -> Path:
    """The demo key plus a rival key of the same ente (another service): one shared window."""
    demo = {name: sorted(value) if isinstance(value, frozenset) else value
            for name, value in asdict(DEMO_KEY).items()}
    rival = {"key": RIVAL_KEY, "ente": DEMO_KEY.ente, "service_id": "rival-service"}
    path = workdir / "keys.json"
    path.write_text(json.dumps({"keys": [demo, rival]}), encoding="utf-8")
    return path


# --- the dispatcher ------------------------------------------------------------------------------


@dataclass
class DispatchResult:
    """One ``run_campaign`` and what the server saw meanwhile."""

    summary: RunSummary
    pacer: PacerStatistics
    timeline: list[TimelineSample]
    server: Counter[str]  # answers by status during the run, every key
    client_cpu_s: float
    server_cpu_s: float

    @property
    def seconds(self) -> float:
        return self.summary.duration_s

    @property
    def client_ok(self) -> int:
        return self.summary.requests - self.summary.throttled


def run_dispatcher(sim: Simulator, campaign_path: Path, ledger_path: Path, *, rate: str,
                   concurrency: int, time_limit: float) -> DispatchResult:
    """``dispatcher run`` through its API, with a fresh ledger and a deadline."""
    campaign = CampaignSource(campaign_path, TEMPLATE)
    settings = Settings(base_url=sim.base_url, api_key=Secret(KEY), rate=RateSpec.parse(rate),
                        concurrency=concurrency, journal=ledger_path.parent / "journal.sqlite")
    deadline = datetime.now() + timedelta(seconds=time_limit)
    options = RunOptions(stops=StopOptions(deadline=deadline, handle_signals=False))
    getters: list[Any] = []
    before, cpu_before, server_cpu_before = sim.answered(), _cpu_seconds(), sim.cpu_seconds()
    summary = run_campaign(campaign, settings=settings, ledger_path=ledger_path,
                           options=options, hooks=RunHooks(on_pacer=getters.append))
    cpu, server_cpu = _cpu_seconds() - cpu_before, sim.cpu_seconds() - server_cpu_before
    server = sim.answered()
    server.subtract(before)
    with Ledger.open(ledger_path) as ledger:
        timeline = ledger.runs.timeline(summary.run_id)
    return DispatchResult(summary, getters[0](), timeline, server, cpu, server_cpu)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- the competitor: another key of the same ente, in its own process ----------------------------


@dataclass
class RivalResult:
    started_at: float  # unix time of its first request
    stopped_at: float  # unix time of its last request
    statuses: dict[str, int]
    per_second: dict[int, list[int]] = field(default_factory=dict)  # second → [ok, 429]

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code not in ("429", "error"))

    def ok_between(self, start: float, stop: float) -> int:
        return sum(ok for second, (ok, _) in self.per_second.items() if start <= second < stop)


async def rival_loop(base_url: str, rate: float, delay: float, seconds: float) -> RivalResult:
    """``POST /profiles`` at ``rate`` per second, on a fixed schedule, whatever the answers."""
    await asyncio.sleep(delay)
    statuses: Counter[str] = Counter()
    per_second: dict[int, list[int]] = {}

    async def one(http: httpx.AsyncClient) -> None:
        try:
            response = await http.post("/profiles", json={"fiscal_code": SANDBOX_FISCAL_CODE})
        except httpx.HTTPError:
            statuses["error"] += 1
            return
        statuses[str(response.status_code)] += 1
        counts = per_second.setdefault(int(time.time()), [0, 0])
        counts[response.status_code == 429] += 1

    headers = {"Ocp-Apim-Subscription-Key": RIVAL_KEY}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
        loop = asyncio.get_running_loop()
        began, started_at = loop.time(), time.time()
        tasks = []
        for k in range(round(rate * seconds)):
            await asyncio.sleep(max(0.0, began + k / rate - loop.time()))
            tasks.append(asyncio.create_task(one(http)))
        stopped_at = time.time()
        await asyncio.gather(*tasks)
    return RivalResult(started_at, stopped_at, dict(statuses), per_second)


@contextmanager
def rival(base_url: str, *, rate: float, delay: float, seconds: float) -> Iterator[list[Any]]:
    """Start the competitor process now; after the block, the list holds its RivalResult."""
    command = [sys.executable, __file__, "--rival", base_url, "--rival-rate", str(rate),
               "--rival-delay", str(delay), "--rival-seconds", str(seconds)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    result: list[Any] = []
    try:
        yield result
        out, _ = process.communicate(timeout=delay + seconds + 60)
        data = json.loads(out)
        data["per_second"] = {int(k): v for k, v in data["per_second"].items()}
        result.append(RivalResult(**data))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- the bare httpx loop -------------------------------------------------------------------------


async def bare_loop(base_url: str, jobs: list[tuple[str, dict[str, Any]]], workers: int,
                    time_limit: float) -> tuple[Counter[int], float]:
    """The floor: the same requests, no pacing, ledger, retries or classification."""
    statuses: Counter[int] = Counter()
    headers = {"Ocp-Apim-Subscription-Key": KEY, "User-Agent": DEFAULT_USER_AGENT,
               "Accept": "application/json"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    pending = iter(jobs)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits,
                                 timeout=30) as http:

        async def worker() -> None:
            for code, payload in pending:
                answer = await http.post("/profiles", json={"fiscal_code": code})
                statuses[answer.status_code] += 1
                if answer.status_code == 200 and answer.json().get("sender_allowed"):
                    sent = await http.post("/messages", json=payload)
                    statuses[sent.status_code] += 1

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(workers))), time_limit)
        return statuses, time.perf_counter() - started


def campaign_jobs(campaign_path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(fiscal code, rendered payload) of every valid row, rendered before any timing."""
    campaign = load_campaign(campaign_path, template=TEMPLATE)
    return [(row.fiscal_code, row.message.body()) for row in campaign.rows()
            if row.state is InputVerdict.VALID and row.message is not None]


# --- numbers from a run --------------------------------------------------------------------------


def ok_count(statuses: Counter[str]) -> int:
    """Answers that are not 429 (and not a dropped connection): goodput's numerator."""
    return sum(n for code, n in statuses.items() if code not in ("429", "no_response"))


def good_per_second(result: DispatchResult) -> dict[int, int]:
    """Admissions less 429 answers, per wall-clock second, from the Pacer's timeline."""
    return {s.second: s.requests - s.throttled for s in result.timeline}


def first_recovered(good: dict[int, int], since: float, level: float) -> int | None:
    """First second ≥ ``since`` from which the smoothed goodput stays at ≥ ``level``."""
    start = int(since)
    end = max(good, default=start)
    for second in range(start, end - RECOVERY_SMOOTHING + 2):
        window = [good.get(s, 0) for s in range(second, second + RECOVERY_SMOOTHING)]
        if sum(window) / RECOVERY_SMOOTHING >= level:
            return second
    return None


def write_timeline(path: Path, result: DispatchResult, rival_run: RivalResult | None) -> None:
    with path.open("w", newline="") as stream:
        out = csv.writer(stream)
        out.writerow(["second", "t", "requests", "throttled", "target_rate", "current_rate",
                      "rival_ok", "rival_429"])
        start = result.summary.started_at
        for s in result.timeline:
            rival_ok, rival_429 = (rival_run.per_second.get(s.second, [0, 0]) if rival_run
                                   else (0, 0))
            out.writerow([s.second, round(s.second - start), s.requests, s.throttled,
                          s.target_rate, round(s.current_rate or 0, 2), rival_ok, rival_429])


# --- printing ------------------------------------------------------------------------------------


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_header(title: str) -> None:
    print(f"\n== {title}", flush=True)


def print_rows(result: DispatchResult) -> None:
    counts = {state.value: n for state, n in result.summary.counts.items() if n}
    stop = result.summary.stopped_reason or result.summary.fatal
    print(f"  run        {result.seconds:7.1f} s wall, rows {counts}"
          + (f", stopped: {stop}" if stop else ""))


def print_budget(result: DispatchResult, *, available: float, rival_ok: int = 0,
                 goodput_target: float, throttled_target: float) -> None:
    """Goodput as % of ``available`` requests (server view first), 429 share, pacer stats."""
    server_ok = ok_count(result.server) - rival_ok
    server_429 = result.server.get("429", 0)
    own_429 = result.summary.throttled
    views = (("server", server_ok, own_429 if rival_ok else server_429, "headline"),
             ("client", result.client_ok, own_429, "RunSummary cross-check"))
    for name, ok, throttled, note in views:
        share = pct(throttled, ok + throttled)
        print(f"  {name:<10} {ok:6d} answered non-429, {throttled:4d} answered 429 → goodput "
              f"{ok / result.seconds:5.2f} req/s = {pct(ok, available):5.1f} % of available, "
              f"429 share {share:4.2f} %   ({note})")
    if rival_ok:
        print(f"             (server: {server_429} answers 429 to both keys; the client's own "
              "count is used for our share)")
    share = pct(own_429 if rival_ok else server_429, server_ok + server_429)
    print(f"  targets    goodput ≥ {goodput_target:.0f} %: "
          f"{verdict(pct(server_ok, available) >= goodput_target)}; 429 ≤ "
          f"{throttled_target:.0f} %: {verdict(share <= throttled_target)}")
    print_pacer(result)


def print_pacer(result: DispatchResult) -> None:
    p = result.pacer
    rates = [s.current_rate for s in result.timeline if s.current_rate is not None]
    good = good_per_second(result)
    throttled_seconds = sum(1 for s in result.timeline if s.throttled)
    first = next((s.second for s in result.timeline if s.throttled), None)
    first_text = f"+{first - result.summary.started_at:.0f} s" if first else "never"
    print(f"  pacer      target {p.target_rate:.2f} req/s, achieved {p.achieved_rate:.2f} "
          f"(admissions first→last), rate cuts {p.rate_cuts}, waits at the 429 gate "
          f"{p.waits_for_retry_hint}, 429s in {throttled_seconds} s of {len(good)} "
          f"(first {first_text}), current rate min {min(rates, default=0):.1f} / "
          f"mean {sum(rates) / max(1, len(rates)):.1f}")
    print(f"  client     peak RSS {peak_rss_mib():.0f} MiB (this process, so far), CPU "
          f"{result.client_cpu_s:.1f} s; simulator CPU {result.server_cpu_s:.1f} s")


def print_phases(result: DispatchResult, rival_run: RivalResult) -> None:
    """Goodput before, during and after the competitor, from the per-second timeline."""
    good = good_per_second(result)
    start, end = result.summary.started_at, result.summary.started_at + result.seconds
    phases = (("before", start, rival_run.started_at), ("during", rival_run.started_at,
              rival_run.stopped_at), ("after", rival_run.stopped_at, end))
    for name, lo, hi in phases:
        span = max(1e-9, hi - lo)
        ours = sum(n for second, n in good.items() if lo <= second + 0.5 < hi)
        theirs = rival_run.ok_between(lo, hi)
        left = CEILING * span - theirs
        print(f"  {name:<6}     {span:6.1f} s: ours {ours / span:5.2f} req/s = "
              f"{pct(ours, left):5.1f} % of what is left ({left / span:5.2f} req/s); "
              f"competitor {theirs / span:5.2f} req/s")


def print_recovery(result: DispatchResult, rival_run: RivalResult) -> None:
    good = good_per_second(result)
    level = RECOVERY_SHARE * CEILING
    stop = rival_run.stopped_at
    smooth = first_recovered(good, stop, level)
    single = next((s for s in sorted(good) if s >= int(stop) and good[s] >= level), None)
    rates = {s.second: s.current_rate for s in result.timeline}
    if smooth is None:
        print(f"  recovery   never back at ≥ {level:.0f} req/s after the competitor stopped "
              "(target ≤ 30 s): MISSED")
        return
    took = smooth - stop
    single_text = f"{single - stop:.1f} s" if single is not None else "never"
    print(f"  recovery   {took:.1f} s from the competitor's last request to a "
          f"{RECOVERY_SMOOTHING}-s mean goodput ≥ {level:.0f} req/s (a single second: "
          f"{single_text}; current rate then {rates.get(smooth) or 0:.1f}); target ≤ 30 s: "
          f"{verdict(took <= 30)}")


def print_buckets(result: DispatchResult, rival_run: RivalResult, width: int = 10) -> None:
    """The timeline in ``width``-second buckets: ours, our 429s, our rate, the competitor."""
    start = int(result.summary.started_at)
    by_second = {s.second: (s.requests, s.throttled, s.current_rate) for s in result.timeline}
    last = max(by_second, default=start)
    print(f"  timeline   per {width} s: t, our goodput/s, our 429s, mean current rate, "
          "competitor ok/s, competitor 429s")
    for lo in range(start, last + 1, width):
        seconds = range(lo, min(lo + width, last + 1))
        rows = [by_second.get(s, (0, 0, None)) for s in seconds]
        ours = sum(r - t for r, t, _ in rows) / len(seconds)
        throttled = sum(t for _, t, _ in rows)
        rates = [c for _, _, c in rows if c is not None]
        theirs = [rival_run.per_second.get(s, [0, 0]) for s in seconds]
        print(f"    +{lo - start:4d} s  {ours:5.1f}  {throttled:3d}  "
              f"{sum(rates) / max(1, len(rates)):5.1f}  "
              f"{sum(o for o, _ in theirs) / len(seconds):5.1f}"
              f"  {sum(t for _, t in theirs):3d}")


# --- scenarios -----------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    workdir: Path
    campaign: Path
    runs: int = 0

    def ledger(self) -> Path:
        self.runs += 1
        return self.workdir / f"ledger-{self.runs}.sqlite"

    @property
    def expected_seconds(self) -> float:
        return self.args.recipients * REQUESTS_PER_RECIPIENT / CEILING

    @property
    def time_limit(self) -> float:
        return 3 * self.expected_seconds + 60


def scenario_precise(ctx: Context) -> None:
    print_header(f"precise: --rate {POLICY} against the simulator's {POLICY} window "
                 f"(ceiling {CEILING:g} req/s), {ctx.args.recipients:,} recipients")
    budget_run(ctx, "precise", rate=POLICY, goodput_target=97, throttled_target=1)


def scenario_adaptive(ctx: Context) -> None:
    print_header(f"adaptive: --rate 300/5s against the simulator's {POLICY} window "
                 f"(ceiling {CEILING:g} req/s), {ctx.args.recipients:,} recipients")
    budget_run(ctx, "adaptive", rate="300/5s", goodput_target=90, throttled_target=3)


def budget_run(ctx: Context, name: str, *, rate: str, goodput_target: float,
               throttled_target: float) -> None:
    with simulator(POLICY, ctx.workdir) as sim:
        result = run_dispatcher(sim, ctx.campaign, ctx.ledger(), rate=rate,
                                concurrency=ctx.args.concurrency, time_limit=ctx.time_limit)
    print_rows(result)
    print_budget(result, available=CEILING * result.seconds, goodput_target=goodput_target,
                 throttled_target=throttled_target)
    path = ctx.workdir / f"timeline-{name}.csv"
    write_timeline(path, result, None)
    print(f"  timeline   {path}")


def scenario_competitor(ctx: Context) -> None:
    delay = min(60.0, 0.2 * ctx.expected_seconds)
    seconds = min(120.0, 0.4 * ctx.expected_seconds)
    print_header(f"competitor: --rate 300/5s against {POLICY}, {ctx.args.recipients:,} "
                 f"recipients; a second key of the same ente sends {ctx.args.rival_rate:g} "
                 f"req/s from +{delay:.0f} s for {seconds:.0f} s")
    with (
        simulator(POLICY, ctx.workdir, rival=True) as sim,
        rival(sim.base_url, rate=ctx.args.rival_rate, delay=delay, seconds=seconds) as rival_box,
    ):
        result = run_dispatcher(sim, ctx.campaign, ctx.ledger(), rate="300/5s",
                                concurrency=ctx.args.concurrency, time_limit=ctx.time_limit)
    rival_run: RivalResult = rival_box[0]
    print_rows(result)
    print(f"  competitor {sum(rival_run.statuses.values())} requests "
          f"{dict(sorted(rival_run.statuses.items()))}, from +"
          f"{rival_run.started_at - result.summary.started_at:.1f} s to +"
          f"{rival_run.stopped_at - result.summary.started_at:.1f} s")
    print_budget(result, available=CEILING * result.seconds - rival_run.ok,
                 rival_ok=rival_run.ok, goodput_target=90, throttled_target=3)
    print_phases(result, rival_run)
    print_recovery(result, rival_run)
    path = ctx.workdir / "timeline-competitor.csv"
    write_timeline(path, result, rival_run)
    if ctx.args.buckets:
        print_buckets(result, rival_run)
    print(f"  timeline   {path}")


def scenario_overhead(ctx: Context) -> None:
    workers = 2 * ctx.args.concurrency
    rate = "1000000/1s"
    print_header(f"overhead: unlimited simulator, {ctx.args.recipients:,} recipients; "
                 f"dispatcher --rate {rate} (never the limit) vs a bare httpx loop with "
                 f"{workers} requests in flight")
    jobs = campaign_jobs(ctx.campaign)
    best_bare = best_dispatch = 0.0
    with simulator("0", ctx.workdir) as sim:
        for round_number in range(1, ctx.args.overhead_rounds + 1):
            bare = measure_bare(sim, jobs, workers, ctx.time_limit)
            result = run_dispatcher(sim, ctx.campaign, ctx.ledger(), rate=rate,
                                    concurrency=ctx.args.concurrency, time_limit=ctx.time_limit)
            dispatch = result.summary.requests / result.seconds
            server_rate = ok_count(result.server) / result.seconds
            per_request = 1e6 * result.client_cpu_s / max(1, result.summary.requests)
            print(f"  round {round_number}    bare httpx {bare:7.1f} req/s; dispatcher "
                  f"{dispatch:7.1f} req/s (server count {server_rate:.1f}; client CPU "
                  f"{result.client_cpu_s:.1f} s = {per_request:.0f} µs/request, "
                  f"simulator CPU {result.server_cpu_s:.1f} s over {result.seconds:.1f} s); "
                  f"ratio {pct(dispatch, bare):.1f} %")
            best_bare, best_dispatch = max(best_bare, bare), max(best_dispatch, dispatch)
    print(f"  best       bare {best_bare:.1f} req/s, dispatcher {best_dispatch:.1f} req/s → "
          f"ratio {pct(best_dispatch, best_bare):.1f} % (target ≥ 70 %: "
          f"{verdict(pct(best_dispatch, best_bare) >= 70)})")
    print(f"  client     peak RSS {peak_rss_mib():.0f} MiB (this process, so far)")


def measure_bare(sim: Simulator, jobs: list[tuple[str, dict[str, Any]]], workers: int,
                 time_limit: float) -> float:
    before, cpu_before, server_before = sim.answered(), _cpu_seconds(), sim.cpu_seconds()
    statuses, seconds = asyncio.run(bare_loop(sim.base_url, jobs, workers, time_limit))
    cpu, server_cpu = _cpu_seconds() - cpu_before, sim.cpu_seconds() - server_before
    total = sum(statuses.values())
    served = sim.answered()
    served.subtract(before)
    print(f"             bare: {total} requests in {seconds:.1f} s "
          f"{dict(sorted(statuses.items()))} (server count {ok_count(served)}; client CPU "
          f"{cpu:.1f} s = {1e6 * cpu / max(1, total):.0f} µs/request, simulator CPU "
          f"{server_cpu:.1f} s)")
    return total / seconds


def engine_fingerprint() -> tuple[str, str]:
    """A digest of dispatcher's sources and the newest file: numbers belong to one version."""
    files = sorted((ROOT / "dispatcher").rglob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    newest = max(files, key=lambda path: path.stat().st_mtime)
    stamp = datetime.fromtimestamp(newest.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    return digest.hexdigest()[:12], f"{newest.relative_to(ROOT)} {stamp}"


# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=5000, help="campaign size per run")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable); default: all four")
    parser.add_argument("--concurrency", type=int, default=16, help="workers per stage")
    parser.add_argument("--rival-rate", type=float, default=CEILING / 3,
                        help="the competitor's steady rate, req/s")
    parser.add_argument("--overhead-rounds", type=int, default=2,
                        help="bare/dispatcher pairs in the overhead scenario (best is kept)")
    parser.add_argument("--seed", type=int, default=4, help="seed of the generated campaign")
    parser.add_argument("--no-buckets", dest="buckets", action="store_false",
                        help="do not print the competitor run's 10-s timeline")
    parser.add_argument("--workdir", type=Path, help="keep ledgers, logs and timelines here")
    parser.add_argument("--rival", help=argparse.SUPPRESS)  # the competitor process
    parser.add_argument("--rival-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--rival-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    return parser.parse_args()


def run_rival(args: argparse.Namespace) -> None:
    outcome = asyncio.run(rival_loop(args.rival, args.rival_rate, args.rival_delay,
                                     args.rival_seconds))
    print(json.dumps(asdict(outcome)))


def main() -> None:
    args = parse_args()
    if args.rival:
        run_rival(args)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_dispatch_"))
    workdir.mkdir(parents=True, exist_ok=True)
    log_stream = (workdir / "dispatcher.log").open("w", encoding="utf-8")
    # What `dispatcher run` does without a terminal: JSON lines at INFO (one per row).
    configure_logging(json=True, level=logging.INFO, stream=log_stream, secrets=(KEY,))
    campaign = workdir / f"tari_{args.recipients}_{args.seed}.csv"
    write_csv(campaign, tari_rows(args.recipients, args.seed))
    ctx = Context(args, workdir, campaign)
    digest, newest = engine_fingerprint()
    print(f"dispatcher budget and overhead, {args.recipients:,} recipients, concurrency "
          f"{args.concurrency}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}; work directory {workdir}")
    print(f"engine sources {digest} (newest: {newest})")
    wanted = args.only or list(SCENARIOS)
    runners = {"precise": scenario_precise, "adaptive": scenario_adaptive,
               "competitor": scenario_competitor, "overhead": scenario_overhead}
    for name in SCENARIOS:
        if name in wanted:
            started = time.perf_counter()
            runners[name](ctx)
            print(f"  ({time.perf_counter() - started:.0f} s; load average now "
                  f"{os.getloadavg()[0]:.2f})", flush=True)
    log_stream.close()
    after, newest = engine_fingerprint()
    if after != digest:
        print(f"\nWARNING: dispatcher's sources changed while this ran ({digest} → {after}, "
              f"newest: {newest}); the numbers above belong to {digest}, imported at start")


if __name__ == "__main__":
    main()
