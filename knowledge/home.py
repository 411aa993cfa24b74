"""Where cairn keeps its state: one data directory (CAIRN_HOME, default ./.cairn) holding
indexes, the model cache, grades, eval history, adapters and builds (DESIGN.md §1).

Private by default: the home holds note text (docstore, uploads, chat log, grades, eval
results, reports), so it is mode 0700 and what cairn writes in it is 0600 / 0700 whatever the
umask. Three helpers set those modes, so writers never chmod on their own:

    private_dir(path)      create a folder (and missing parents) 0700
    private_file(path)     create a file 0600 before anything writes to it, or narrow it
    private_sqlite(path)   private_file for a SQLite database and its -wal/-shm/-journal

`cairn_home()` also narrows the process umask to 0o077 (never widens it): libraries that
take no mode (Chroma, bm25s, torch, matplotlib) then write private files too.

Also the offline switches: every entry point calls `set_offline_env()` before importing
huggingface/chroma/gradio so that nothing tries the network (a hub name would otherwise
hang ~70 s before failing).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "RAGAS_DO_NOT_TRACK": "true",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # On 2 shared cores OpenMP spin-waiting collapses throughput 3-10x (DESIGN.md §6).
    "OMP_WAIT_POLICY": "PASSIVE",
}


def set_offline_env() -> None:
    """Set the offline/telemetry switches unless the user already chose a value."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    # bitsandbytes warns on import that it cannot fetch a CPU kernel from the hub; we keep the
    # `kernels` package out on purpose (it would download at run time), so the warning is noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
log = logging.getLogger(__name__)


def cairn_home() -> Path:
    """The data directory; created on first use, private (see the module docstring)."""
    home = Path(os.environ.get("CAIRN_HOME", ".cairn")).expanduser().resolve()
    os.umask(os.umask(0o077) | 0o077)  # reading the umask means setting it; keep any stricter bits
    if home.is_dir():
        _narrow_home(home)
    else:
        private_dir(home)
    return home


def _narrow_home(home: Path) -> None:
    """Make an existing home 0700 (one made before homes were private, or by hand). Only a
    folder this user owns is changed: a shared one is its owner's to set."""
    st = home.stat()
    if not st.st_mode & 0o077 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        return
    log.warning("%s was open to other users (mode %o); narrowing it to %o", home, st.st_mode & 0o777,
                PRIVATE_DIR_MODE)
    os.chmod(home, PRIVATE_DIR_MODE)


def private_dir(path: str | Path) -> Path:
    """Create folder `path` and its missing parents with mode 0700, whatever the umask.
    Folders that exist already are left as they are."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(PRIVATE_DIR_MODE)
        except FileExistsError:  # made meanwhile by another writer
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: str | Path) -> Path:
    """Create file `path` empty with mode 0600 (in a private folder) if it is missing, else take
    away its group and other bits, so that what is written to it next stays private."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
        os.chmod(path, PRIVATE_FILE_MODE)  # os.open's mode is filtered by the umask
    except FileExistsError:
        _narrow(path)
    return path


def _narrow(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def private_sqlite(path: str | Path) -> Path:
    """`private_file` for a SQLite database, before it is opened: SQLite gives the -wal, -shm
    and -journal files it creates the database's mode, and ones left by an earlier run are
    narrowed here too."""
    path = private_file(path)
    for suffix in _SQLITE_SIDECARS:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _narrow(side)
    return path


def index_dir(collection: str) -> Path:
    """Directory of one collection's indexes (docstore, Chroma, BM25)."""
    return private_dir(cairn_home() / "index" / collection)


def models_dir() -> Path:
    return private_dir(cairn_home() / "models")
