"""How long a 1,000,000-row ``dispatcher run`` takes to send its first request, fresh and resumed.

Four numbers, each printed next to its target. This script prints numbers and never fails on
them (timings depend on the machine and on its neighbours: on 2 cores the run, the simulator and
this poller share them, so read a small miss as noise unless it repeats):

* **validate**: wall time of the subprocess ``dispatcher validate FILE --template
  sample_data/tari_2027.toml``, process start to exit (the yardstick for the next number);
* **first request**: process start of a new ``dispatcher run FILE --template ... --ledger L``
  (fresh ledger) to the first request the simulator sees; target ≤ 3 × validate;
* **peak RSS** of that run process up to the moment it is stopped; target ≤ 500 MB;
* **resume**: the same command again on the same ledger, after the first was stopped with
  SIGTERM (exit 75, "stopped, resumable"): process start to its first request; target ≤ 5 s.

    python bench/bench_run_start.py [--rows 1000000] [--seed 7] [--source DIR]

How the numbers are taken. Every dispatcher process (validate, the simulator, both runs) is
``python -m dispatcher ...`` with ``PYTHONPATH=DIR`` (``--source``, default: the tree this script
lives in) and a fresh temporary folder as cwd, HOME and XDG_STATE_HOME, so ``DIR/dispatcher`` is
what gets imported (checked and printed first); ``DIR/dispatcher`` is byte-compiled beforehand
so no timing pays for writing ``.pyc`` files. The API key goes in ``IO_API_KEY`` (the
simulator's all-permission ``demo-key``), never on argv; other ``IO_*`` variables are dropped.

The simulator runs in its own process on 127.0.0.1 and a free port (``--port 0``, the port it
announces on stdout), with ``--share-missing 0 --share-blocked 0`` so every generated fiscal code
has a profile and allows the service: requests flow (profile checks, then sends). The first
request is detected by polling ``GET /__sim__/stats`` every ~10 ms over one keep-alive
connection and watching ``requests_total`` rise above its value before the run started. That
counter counts every request on ``/api/v1`` (401 and 429 answers included) and is bumped when
the answer is made, which for ``POST /profiles`` is well under a millisecond after arrival, so
the number is "process start to first answered request", to within the poll period (~10 ms)
plus one stats round trip. The polling costs the simulator a few % of a core.

Peak RSS is ``VmHWM`` of ``/proc/PID/status`` of the run process (its own high-water mark: the
dispatcher starts no child processes), read just before SIGTERM. For comparison the script also
prints ``ru_maxrss`` from ``os.wait4`` at exit, which also covers the stop and the final writes.

Each run is stopped ``--after`` seconds (default 1) after its first request: SIGTERM, then wait
up to ``--stop-timeout`` seconds for the exit, then SIGKILL. The campaign is generated once (by
sample_data/generate.py, in a child process) and cached in bench/out/; if ``validate`` reports
invalid rows (exit 2) the runs get ``--skip-invalid`` (the generator's rows are all valid).
Logs and ledgers are kept in the work folder printed in the header (``--workdir`` to choose).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "demo-key"  # the simulator's default key, every permission (public, loopback only)
POLL_S = 0.010
STOPPED = 75  # ExitCode.STOPPED: stopped by a signal, rerun to resume
RSS_TARGET_MB = 500
RESUME_TARGET_S = 5.0
START_FACTOR = 3.0


# --- the environment of every dispatcher process -------------------------------------------------


@dataclass
class Tree:
    """How to start ``python -m dispatcher`` from one source tree, isolated in ``home``."""

    python: str
    source: Path
    home: Path
    base_url: str = ""

    def env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith(("IO_", "DISPATCHER_", "PYTHON"))}
        env.update(PYTHONPATH=str(self.source), HOME=str(self.home),
                   XDG_STATE_HOME=str(self.home / "state"),
                   XDG_CONFIG_HOME=str(self.home / "config"),
                   XDG_CACHE_HOME=str(self.home / "cache"))
        if self.base_url:
            env.update(IO_BASE_URL=self.base_url, IO_API_KEY=KEY)
        return env

    def command(self, *args: str) -> list[str]:
        return [self.python, "-m", "dispatcher", *args]

    def popen(self, args: list[str], log: Path, **kwargs: object) -> subprocess.Popen[bytes]:
        with log.open("ab") as stream:
            return subprocess.Popen(self.command(*args), cwd=self.home, env=self.env(),
                                    stdin=subprocess.DEVNULL, stdout=stream, stderr=stream,
                                    **kwargs)  # type: ignore[call-overload]


def imported_from(tree: Tree) -> str:
    done = subprocess.run([tree.python, "-c", "import dispatcher; print(dispatcher.__file__)"],
                          cwd=tree.home, env=tree.env(), capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


def precompile(tree: Tree) -> None:
    """Write the ``.pyc`` files now, so that no timed process pays for it."""
    subprocess.run([tree.python, "-m", "compileall", "-q", str(tree.source / "dispatcher")],
                   cwd=tree.home, env=tree.env(), stdout=subprocess.DEVNULL, check=False)


# --- the simulator -------------------------------------------------------------------------------


class Simulator:
    """``dispatcher simulator`` in its own process; ``requests()`` reads its request counter."""

    def __init__(self, tree: Tree, workdir: Path) -> None:
        args = ["simulator", "--host", "127.0.0.1", "--port", "0", "--share-missing", "0",
                "--share-blocked", "0"]
        with (workdir / "simulator.log").open("ab") as errors:
            self.process = subprocess.Popen(tree.command(*args), cwd=tree.home, env=tree.env(),
                                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=errors)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode(errors="replace")
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if not match:
            self.close()
            raise RuntimeError(f"the simulator did not start: {line!r} (see simulator.log)")
        self.port = int(match.group(1))
        self.base_url = f"http://127.0.0.1:{self.port}/api/v1"
        self._http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def requests(self) -> int:
        """Requests answered on /api/v1 so far (every status, every endpoint)."""
        try:
            self._http.request("GET", "/__sim__/stats")
            body = self._http.getresponse().read()
        except (OSError, http.client.HTTPException):
            self._http.close()  # reconnect once, on a dropped keep-alive connection
            self._http.request("GET", "/__sim__/stats")
            body = self._http.getresponse().read()
        stats = json.loads(body)
        if "requests_total" in stats:
            return int(stats["requests_total"])
        return sum(stats.get("status_codes", {}).values())

    def close(self) -> None:
        if hasattr(self, "_http"):
            self._http.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- one run, from start to its first request, then stopped ---------------------------------------


@dataclass
class RunResult:
    first_request_s: float | None  # process start → first request; None: never
    vm_hwm_mib: float | None  # VmHWM just before SIGTERM
    maxrss_mib: float | None  # ru_maxrss at exit (os.wait4)
    exit_code: int | None
    stop_s: float  # SIGTERM → exit
    killed: bool
    requests_before_stop: int
    note: str = ""


def vm_hwm_mib(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def reap(pid: int, timeout: float) -> tuple[int, float] | None:
    """(exit code, ru_maxrss MiB) once ``pid`` exits, None after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024  # Linux: KiB
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def timed_run(tree: Tree, sim: Simulator, args: list[str], log: Path, *, after: float,
              wait_limit: float, stop_timeout: float) -> RunResult:
    baseline = sim.requests()
    started = time.perf_counter()
    process = tree.popen(args, log)
    first: float | None = None
    note = ""
    while True:
        if sim.requests() > baseline:
            first = time.perf_counter() - started
            break
        if process.poll() is not None:
            note = f"exited {process.returncode} before any request"
            break
        if time.perf_counter() - started > wait_limit:
            note = f"no request within {wait_limit:.0f} s"
            break
        time.sleep(POLL_S)
    if process.returncode is not None:  # already reaped by poll()
        return RunResult(first, None, None, process.returncode, 0.0, False, 0, note)
    if first is not None:
        time.sleep(after)
    hwm = vm_hwm_mib(process.pid)
    sent = sim.requests() - baseline
    stop_started = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    reaped = reap(process.pid, stop_timeout)
    killed = reaped is None
    if reaped is None:
        process.kill()
        reaped = reap(process.pid, 30) or (-9, 0.0)
    process.returncode = reaped[0]  # reaped here, with its rusage: tell Popen
    return RunResult(first, hwm, reaped[1] or None, reaped[0],
                     time.perf_counter() - stop_started, killed, sent, note)


def _recorded(ledger: Path) -> bool:
    """Whether the ledger's latest campaign has every row recorded (schema 3; else False)."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
            found = db.execute("SELECT recorded FROM campaigns ORDER BY campaign_id DESC "
                               "LIMIT 1").fetchone()
    except sqlite3.Error:
        return False
    return bool(found and found[0])


# --- the campaign and validate -------------------------------------------------------------------


def campaign_file(rows: int, seed: int) -> Path:
    path = ROOT / "bench" / "out" / f"tari_{rows}_{seed}.csv"
    if not path.exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "sample_data" / "generate.py"), "--rows", str(rows),
             "--seed", str(seed), "--out", str(path)],
            check=True, stdout=subprocess.DEVNULL,
        )
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
    return path


def timed_validate(tree: Tree, campaign: Path, template: Path, log: Path) -> tuple[float, int]:
    """(wall seconds from process start to exit, exit code)."""
    with log.open("ab") as stream:
        started = time.perf_counter()
        done = subprocess.run(tree.command("validate", str(campaign), "--template",
                                           str(template)),
                              cwd=tree.home, env=tree.env(), stdin=subprocess.DEVNULL,
                              stdout=stream, stderr=stream, check=False)
        return time.perf_counter() - started, done.returncode


# --- printing ------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def mb(mib: float) -> float:
    return mib * 2**20 / 1e6


def print_run(name: str, result: RunResult) -> None:
    first = f"{result.first_request_s:6.2f} s" if result.first_request_s is not None else "never"
    hwm = (f"{result.vm_hwm_mib:.0f} MiB = {mb(result.vm_hwm_mib):.0f} MB"
           if result.vm_hwm_mib is not None else "?")
    maxrss = f"{result.maxrss_mib:.0f} MiB" if result.maxrss_mib is not None else "?"
    stop = "SIGKILL after the timeout" if result.killed else f"{result.stop_s:.1f} s"
    print(f"{name:<13} first request {first}; peak RSS (VmHWM before SIGTERM) {hwm}; "
          f"{result.requests_before_stop} requests before SIGTERM")
    print(f"{'':<13} stopped: exit {result.exit_code} "
          f"({'stopped, resumable' if result.exit_code == STOPPED else 'not 75'}) in {stop}; "
          f"ru_maxrss at exit {maxrss}{'; ' + result.note if result.note else ''}")


# --- main ----------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="source tree whose dispatcher/ is benchmarked (default: this repo)")
    parser.add_argument("--python", default=sys.executable, help="interpreter to run it with")
    parser.add_argument("--after", type=float, default=1.0,
                        help="seconds a run keeps going after its first request")
    parser.add_argument("--wait-limit", type=float, default=240.0,
                        help="give up on a run that sends nothing for this many seconds")
    parser.add_argument("--stop-timeout", type=float, default=60.0,
                        help="seconds from SIGTERM to SIGKILL")
    parser.add_argument("--workdir", type=Path, help="keep logs and ledgers here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    source = args.source.resolve()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="bench_run_start_"))).resolve()
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    tree = Tree(args.python, source, home)
    template = source / "sample_data" / "tari_2027.toml"
    if not template.exists():
        template = ROOT / "sample_data" / "tari_2027.toml"
    campaign = campaign_file(args.rows, args.seed)
    precompile(tree)
    print(f"source        {source} (imports {imported_from(tree)})")
    print(f"file          {campaign.name}: {args.rows:,} rows, "
          f"{campaign.stat().st_size / 2**20:.0f} MiB; template {template}")
    print(f"machine       {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"work folder {workdir}")

    validate_s, validate_rc = timed_validate(tree, campaign, template, workdir / "validate.log")
    print(f"validate      {validate_s:6.2f} s   (exit {validate_rc})", flush=True)
    (workdir / "ledger").mkdir(exist_ok=True)
    run_args = ["run", str(campaign), "--template", str(template), "--ledger",
                str(workdir / "ledger" / "ledger.sqlite")]
    if validate_rc == 2:
        run_args.append("--skip-invalid")
        print("              some rows are invalid: the runs get --skip-invalid")
    elif validate_rc != 0:
        print(f"              validate failed (see {workdir / 'validate.log'})")

    sim = Simulator(tree, workdir)
    tree.base_url = sim.base_url
    try:
        options = {"after": args.after, "wait_limit": args.wait_limit,
                   "stop_timeout": args.stop_timeout}
        fresh = timed_run(tree, sim, run_args, workdir / "run-1.log", **options)
        print_run("run (new)", fresh)
        resumed = timed_run(tree, sim, run_args, workdir / "run-2.log", **options)
        print_run("run (resume)", resumed)
        # A new run records its rows while it sends; one stopped early leaves the rest to
        # record on resume. Once every row is recorded, a resume reads no row of the file.
        if _recorded(workdir / "ledger" / "ledger.sqlite"):
            again = timed_run(tree, sim, run_args, workdir / "run-3.log", **options)
            print_run("run (resume, all recorded)", again)
    finally:
        sim.close()

    print("targets")
    if fresh.first_request_s is not None:
        ratio = fresh.first_request_s / validate_s
        print(f"  first request {fresh.first_request_s:.2f} s = {ratio:.2f} × validate "
              f"({validate_s:.2f} s); target ≤ {START_FACTOR:g} × = "
              f"{START_FACTOR * validate_s:.2f} s: {verdict(ratio <= START_FACTOR)}")
    else:
        print(f"  first request never came: MISSED ({fresh.note})")
    if fresh.vm_hwm_mib is not None:
        print(f"  peak RSS      {mb(fresh.vm_hwm_mib):.0f} MB ({fresh.vm_hwm_mib:.0f} MiB); "
              f"target ≤ {RSS_TARGET_MB} MB: {verdict(mb(fresh.vm_hwm_mib) <= RSS_TARGET_MB)}")
    if resumed.first_request_s is not None:
        print(f"  resume start  {resumed.first_request_s:.2f} s; target ≤ {RESUME_TARGET_S:g} s: "
              f"{verdict(resumed.first_request_s <= RESUME_TARGET_S)} (resume peak RSS "
              f"{mb(resumed.vm_hwm_mib or 0):.0f} MB)")
    else:
        print(f"  resume start  never: MISSED ({resumed.note})")
    print(f"  (load average now {os.getloadavg()[0]:.2f}; the machine is shared, numbers are "
          "noisy)")


if __name__ == "__main__":
    main()
