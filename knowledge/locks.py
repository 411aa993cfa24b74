"""An exclusive lock on a lock file, held by a thread or a process: `with file_lock(path): ...`.

flock(2) locks belong to an open file description, so every holder opens the file itself:
two threads of one process then exclude each other exactly as two processes do, and the
kernel drops the lock of a process that dies (kill -9 included), so a crash never leaves a
lock behind. The lock file itself is left in place (empty, private): removing it while
another holder waits would let a third one lock a new file beside them.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .home import PRIVATE_FILE_MODE, private_dir

try:
    import fcntl
except ImportError:  # not POSIX: nothing to lock with; callers' atomic writes still protect files
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created 0600 if missing) for the block, waiting for it."""
    path = Path(path)
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
