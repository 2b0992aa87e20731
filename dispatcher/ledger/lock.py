"""The run lock: one ``run`` per ledger at a time, and the kernel frees it if a run dies."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from dispatcher.ledger.records import LedgerLocked
from dispatcher.storage import private_file


class RunLock:
    """An exclusive ``flock`` on ``<ledger>.lock``; the kernel frees it if the process dies."""

    def __init__(self, ledger_path: Path) -> None:
        self.path = ledger_path.with_name(ledger_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        private_file(self.path)  # it names the host and pid of whoever holds it
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
            os.close(fd)
            raise LedgerLocked(
                f"ledger {self.path.with_suffix('')} is in use by another run ({holder}); "
                "wait for it to finish or stop it (Ctrl-C / SIGTERM) first"
            ) from None
        os.ftruncate(fd, 0)
        # with its offset: the machine's zone (UTC on a server) is not the reader's
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime())
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {stamp}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
