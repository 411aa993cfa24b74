"""Crash-safe file replacement: a reader (or the next run after a crash) sees the old file or
the new one, never half of one.

    write_atomic(path, data)   temp file beside `path` → write → fsync → os.replace → fsync the folder
    staged_dir(out)            a whole folder (a model build) staged beside `out`, then swapped in

The temp file lives in the same folder so `os.replace` is a rename on one file system (atomic
on POSIX); fsyncing the folder afterwards makes the rename itself survive a power cut.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str, *, mode: int | None = None) -> Path:
    """Replace `path` with `data` atomically. `mode`: the new file's permissions (default: the
    old file's, else 0644; pass 0o600 for private files such as grades or users)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """Build a folder in a staging folder beside `out`, then swap it in whole:

        with staged_dir(out) as staging:
            model.save_pretrained(staging)        # a crash here leaves `out` as it was

    On success `out` (if any) is replaced by the staging folder; on an exception, or after the
    swap, whatever is left of the staging folder is removed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
