"""Validate and render a 1,000,000-row TARI campaign; print seconds and peak memory.

Targets on a 2-core machine: about 10 s and 500 MB for the whole thing. This script prints
numbers and never fails on them (timings depend on the machine and on its neighbours).

    python bench/bench_validate.py [--rows 1000000] [--seed 7]

The campaign file is generated once (by sample_data/generate.py, in a child process so its
memory does not count) and cached in bench/out/.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispatcher.campaign import load_campaign  # noqa: E402
from dispatcher.vocabulary import InputVerdict  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    source = ROOT / "bench" / "out" / f"tari_{args.rows}_{args.seed}.csv"
    if not source.exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "sample_data" / "generate.py"), "--rows",
             str(args.rows), "--seed", str(args.seed), "--out", str(source)],
            check=True, stdout=subprocess.DEVNULL,
        )
        print(f"generated {source.name} in {time.perf_counter() - started:.1f} s")
    size_mb = source.stat().st_size / 2**20
    started = time.perf_counter()
    campaign = load_campaign(source, template=ROOT / "sample_data" / "tari_2027.toml")
    loaded = time.perf_counter()
    valid = payload_bytes = 0
    for row in campaign.rows():
        if row.state is InputVerdict.VALID:
            valid += 1
            payload_bytes += len(row.message.content.markdown)  # type: ignore[union-attr]
    rendered = time.perf_counter()
    print(f"file          {source.name}: {campaign.row_count:,} rows, {size_mb:.0f} MiB")
    print(f"read+validate {loaded - started:6.2f} s   (valid {campaign.valid_count:,}, "
          f"invalid {campaign.invalid_count:,}, duplicates {campaign.duplicate_count:,})")
    print(f"render rows   {rendered - loaded:6.2f} s   ({valid:,} payloads with content "
          f"hash, {payload_bytes / 2**20:.0f} MiB of markdown)")
    print(f"total         {rendered - started:6.2f} s")
    print(f"peak RSS      {peak_rss_mb():6.0f} MiB")


if __name__ == "__main__":
    main()
