"""Fine-tuned builds as models: what kind of thing a path is (adapter, merged folder, nf4/int8
build, GGUF build), which dense model it was made from, and — once `cairn gate` passes it —
its entry in `CAIRN_HOME/models/registry.json`, so `cairn ask --model NAME` serves it.

    kind        on disk                                   served by            registry format
    adapter     adapter_config.json + weights             hf: base + adapter   peft-adapter
    merged      config.json + safetensors (kind merged)   hf                   transformers
    quantized   + quantization.json (nf4 / int8)          hf (load_quantized)  transformers
    gguf        <name>.<type>.gguf (+ provenance.json)    llama.cpp            gguf
    model       any other transformers folder             hf                   transformers

A registered build lives in `models/<name>/` (copied there on registration when it was built
elsewhere). Its entry's `build` key holds the provenance, the gate report and how to serve it:

    "build": {"kind": "adapter", "serve": {"backend": "hf", "base": "smollm2-135m-hf"},
              "reference": "/…/smollm2-135m-hf", "provenance": {…}, "gate": {…}}

`serve.base` (adapters only) is relative to the models folder when the base lives there.
assistant/llm/config.py reads `serve` — and nothing else of this module — to route a name.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from knowledge.atomic import recover_dir, swap_dir
from knowledge.errors import CairnError

Kind = Literal["adapter", "merged", "quantized", "gguf", "model"]
PROVENANCE = "provenance.json"
GATE_REPORT = "gate.json"


class BuildError(CairnError, ValueError):
    """A path that is no build we know, or a build that cannot be registered."""


@dataclass(frozen=True)
class Build:
    """path: what a loader opens (the .gguf file, or the folder); folder: the build's folder.
    reference: the dense transformers folder it was made from (None if unrecorded)."""

    path: Path
    folder: Path
    kind: Kind
    provenance: dict[str, Any]
    reference: Path | None

    @property
    def family(self) -> Literal["finetune", "quantized"]:
        return "quantized" if self.kind in ("quantized", "gguf") else "finetune"

    @property
    def quantization(self) -> str:
        if self.kind == "gguf":
            return str(self.provenance.get("format", "")).removeprefix("gguf-") or self.path.stem.rsplit(".", 1)[-1]
        return str(self.provenance.get("format", "")) if self.kind == "quantized" else ""


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _recorded(record: dict[str, Any], *keys: str) -> Path | None:
    """The first recorded folder among record[key]['path'] that exists."""
    for key in keys:
        value = (record.get(key) or {}).get("path") if isinstance(record.get(key), dict) else None
        if value and Path(value).is_dir():
            return Path(value)
    return None


def inspect_build(spec: str | os.PathLike[str]) -> Build:
    """Classify `spec` (a path, or a registered name) and find its reference model."""
    from knowledge.models import resolve_model

    text = os.fspath(spec)
    path = Path(text).expanduser()
    recover_dir(path)  # a build folder whose replacement a crash interrupted
    if not path.exists():
        path = resolve_model(text)  # a registered build's name
    path = path.resolve()
    if path.is_file() and path.suffix == ".gguf":
        folder = path.parent
    elif path.is_dir() and len(list(path.glob("*.gguf"))) == 1:
        folder, path = path, next(path.glob("*.gguf"))
    else:
        folder = path
    record = read_json(folder / PROVENANCE)
    if path.suffix == ".gguf":
        return Build(path, folder, "gguf", record, _recorded(record, "source"))
    if (folder / "adapter_config.json").is_file():
        config = read_json(folder / "adapter_config.json")
        ref = _recorded(record, "base")
        if ref is None and config.get("base_model_name_or_path") and Path(config["base_model_name_or_path"]).is_dir():
            ref = Path(config["base_model_name_or_path"])
        return Build(path, folder, "adapter", record, ref)
    if (folder / "quantization.json").is_file():
        return Build(path, folder, "quantized", record, _recorded(record, "source"))
    if (folder / "config.json").is_file():
        kind: Kind = "merged" if record.get("kind") == "merged-model" else "model"
        return Build(path, folder, kind, record, _recorded(record, "base"))
    raise BuildError(f"{text} is no build: expected a peft adapter folder, a merged or quantized model folder, "
                     "or a .gguf file (outputs of `cairn sft|dpo|merge|quantize`)")


def upstream_model(record: dict[str, Any], depth: int = 4) -> str:
    """The catalogue model a build descends from, following base/source records ("" if none)."""
    from knowledge.models_catalogue import catalogue_names

    for key in ("base", "source"):
        entry = record.get(key) if isinstance(record.get(key), dict) else {}
        if entry.get("model_id") in catalogue_names():
            return entry["model_id"]
        folder = Path(entry["path"]) if entry.get("path") else None
        if folder is not None and folder.is_dir() and depth > 0:
            found = upstream_model(read_json(folder / PROVENANCE), depth - 1)
            if found:
                return found
    return ""


# -- registry ------------------------------------------------------------------------------------------

def serve_spec(build: Build, reference: Path | None) -> dict[str, Any]:
    """How the assistant loads the build (see the module docstring)."""
    from knowledge.home import models_dir

    if build.kind == "gguf":
        return {"backend": "llamacpp"}
    if build.kind != "adapter":
        return {"backend": "hf"}
    if reference is None:
        raise BuildError(f"adapter {build.folder} records no base; pass --base so it can be served")
    ref = reference.resolve()
    root = models_dir().resolve()
    base = ref.relative_to(root).as_posix() if ref.is_relative_to(root) else str(ref)
    return {"backend": "hf", "base": base}


def install_build(build: Build, name: str) -> Path:
    """The build's folder under models/<name>/, copying it there (staged, then swapped in, so a
    crash leaves the earlier build of that name or this one) unless it already is there.
    Returns that folder."""
    from knowledge.home import models_dir

    dest = models_dir() / name
    if build.folder.resolve() == dest.resolve():
        return dest
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=models_dir()))
    try:
        target = staging / name
        if build.kind == "gguf":  # only the file and its records, not whatever else shares its folder
            target.mkdir()
            for p in (build.path, build.folder / PROVENANCE):
                if p.is_file():
                    shutil.copy2(p, target / p.name)
        else:
            shutil.copytree(build.folder, target, ignore=shutil.ignore_patterns("checkpoints"))
        swap_dir(target, dest)  # an earlier build of this name stays until this one is in place
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def register_build(build: Build, name: str, reference: Path | None, gate: dict[str, Any]) -> Any:
    """Copy `build` into models/<name>/ with its gate report and register it (role "answer")."""
    from knowledge.models_assemble import artifact_digest, artifact_files, artifact_size
    from knowledge.models_catalogue import catalogue_names, get_spec
    from knowledge.models_registry import RegistryEntry, get_entry, put_entry

    if not name or "/" in name or name.startswith("."):
        raise BuildError(f"build name {name!r} must be a plain folder name (no '/', no leading '.'); pass --name")
    if name in catalogue_names():
        raise BuildError(f"{name!r} is a catalogue model's name; register the build under another --name")
    existing = get_entry(name)
    if existing is not None and "build" not in existing.extra:
        raise BuildError(f"{name!r} is already registered by `cairn models` ({existing.format}); choose another --name")
    serve = serve_spec(build, reference)
    dest = install_build(build, name)
    (dest / GATE_REPORT).write_text(json.dumps(gate, indent=2, default=str), encoding="utf-8")
    artifact = dest / build.path.name if build.kind == "gguf" else dest
    fmt = {"gguf": "gguf", "adapter": "peft-adapter"}.get(build.kind, "transformers")
    upstream = upstream_model(build.provenance)
    spec = get_spec(upstream) if upstream else None
    entry = RegistryEntry(
        name=name, role="answer", format=fmt, path=artifact.relative_to(dest.parent).as_posix(),
        files=tuple(artifact_files(dest)), size_bytes=artifact_size(dest),
        sha256=artifact_digest(artifact, progress=False), quantization=build.quantization,
        upstream=spec.upstream if spec else "", licence=spec.licence if spec else "",
        extra={"build": {"kind": build.kind, "serve": serve, "catalogue_base": upstream or None,
                         "reference": str(reference) if reference else None,
                         "provenance": build.provenance, "gate": gate}})
    put_entry(entry)
    return entry
