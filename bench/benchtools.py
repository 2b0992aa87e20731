"""What the benchmarks share: a server in a child process that prints its port."""

from __future__ import annotations

import subprocess
import sys


def start_child(script: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """Run ``script`` with ``args``; it serves and prints the port on its first line."""
    child = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def stop_child(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
