"""How report files reach the disk: private by default, replaced atomically.

Exports hold fiscal codes and names, so they are created with mode 0600 before the first byte
is written. A file another program reads while we may be rewriting it (the HTML page open in a
browser, the JSON summary a monitor polls, the Prometheus textfile that node_exporter scrapes)
is written to a temporary file in the same folder and renamed over the old one: a reader sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def private_file(path: Path) -> Path:
    """Create ``path`` (and its folder) with mode 0600, or tighten it if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file next to ``path``, renamed over it on success.

    The temporary file is created 0600 (``mkstemp``), so personal data is never readable by
    others, even for a moment; ``mode`` is applied just before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_atomically(path: Path, data: str | bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` (text as UTF-8) atomically; see :func:`atomic_writer`."""
    with atomic_writer(path, mode=mode) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
