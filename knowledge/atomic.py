"""Crash-safe file replacement: a reader (or the next run after a crash) sees the old file or
the new one, never half of one, and never neither.

    write_atomic(path, data)   temp file beside `path` → write → fsync → os.replace → fsync the folder
    staged_dir(out)            a whole folder (a model build) staged beside `out`, then swapped in
    swap_dir(new, final)       final → backup, new → final, backup removed
    recover_dir(final)         after a crash: a backup without its final folder is put back

The temp file lives in the same folder so `os.replace` is a rename on one file system (atomic
on POSIX); fsyncing the folder afterwards makes the rename itself survive a power cut. A
folder cannot be renamed over a non-empty one, so a folder swap takes two renames; the old
folder waits as `.<name>.replaced` until the new one is in place, and `recover_dir` (run by
every swap, and where builds are looked up) finishes whatever a crash left half done.
Files are written private (0600, knowledge/home.py) unless a mode is given.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .home import PRIVATE_FILE_MODE, private_dir


def write_atomic(path: str | Path, data: bytes | str, *, mode: int = PRIVATE_FILE_MODE) -> Path:
    """Replace `path` with `data` atomically; the new file gets `mode` whatever the umask."""
    path = Path(path)
    private_dir(path.parent)
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
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _backup(final: Path) -> Path:
    return final.with_name(f".{final.name}.replaced")


def recover_dir(final: str | Path) -> None:
    """Finish a folder swap that a crash (or an error) interrupted: a backup whose final folder
    is missing is put back; a backup beside its final folder (the new one made it) is removed."""
    final = Path(final)
    backup = _backup(final)
    if not backup.exists():
        return
    if os.path.lexists(final):
        shutil.rmtree(backup)
    else:
        os.replace(backup, final)
    _fsync_dir(final.parent)


def swap_dir(new: str | Path, final: str | Path) -> Path:
    """Put folder `new` at `final` (same file system), replacing what is there. At every
    instant `final` holds the old folder or the new one, or the old one waits in its backup
    for `recover_dir`."""
    new, final = Path(new), Path(final)
    recover_dir(final)  # what an earlier crash left
    if os.path.lexists(final):
        os.replace(final, _backup(final))
    try:
        os.replace(new, final)
    finally:
        recover_dir(final)  # the new folder is in: drop the backup; it is not: put the old one back
    return final


@contextlib.contextmanager
def staged_dir(out: str | Path) -> Iterator[Path]:
    """Build a folder in a staging folder beside `out`, then swap it in whole:

        with staged_dir(out) as staging:
            model.save_pretrained(staging)        # a crash here leaves `out` as it was

    On success `out` (if any) is replaced by the staging folder (`swap_dir`); on an exception,
    or after the swap, whatever is left of the staging folder is removed."""
    out = Path(out)
    private_dir(out.parent)
    recover_dir(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield staging
        swap_dir(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
