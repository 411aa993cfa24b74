"""GGUF → trainable transformers folder, done once per GGUF file and cached (DESIGN.md §4, §6).

transformers reads a GGUF file directly (`from_pretrained(dir, gguf_file=…)`) and unpacks it
into dense torch weights, but the model it returns still carries the GGUF quantizer: it will
not `save_pretrained` ("not serializable") and reports itself as quantized, which peft and
trainers treat as "frozen, not trainable". Unpacking also costs ~20–30 s for the 135M model on
two cores. So the training path converts once and always trains from the folder:

    models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
        │  from_pretrained(dequantize=True)   dense nn.Linear, float32
        │  drop the quantizer: hf_quantizer = None, del config.quantization_config
        ▼
    models/smollm2-135m-hf/   config.json  model.safetensors  tokenizer.json
                              chat_template.jinja  provenance.json
        (written in a staging folder, moved in with one rename: a crash never leaves half a folder)

The folder is reused while the GGUF is unchanged: provenance.json records the GGUF's sha256
with its size and mtime, so an unchanged file is recognised from a stat call and a changed one
re-hashed. Weights are saved in float32: Q4_1/Q8_0 blocks dequantize to values (d·q + m with
fp16 d, m) that bfloat16 cannot always hold, and training picks its own dtype at load time.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.atomic import staged_dir
from knowledge.errors import CairnError
from knowledge.home import models_dir
from knowledge.models import resolve_model
from knowledge.models_assemble import artifact_digest
from knowledge.models_catalogue import catalogue_names
from knowledge.provenance import stamp

PROVENANCE_FILE = "provenance.json"
CONVERTED_SUFFIX = "-hf"
WEIGHT_SUFFIXES = (".safetensors", ".bin")


class ConversionError(CairnError, RuntimeError):
    """A GGUF file that cannot be turned into a trainable folder, or a base that is neither."""


@dataclass(frozen=True)
class TrainableBase:
    """A model folder that transformers can train and save, with what it came from.

    path: the folder (config.json, weights, tokenizer with its chat template).
    model_id: the name it goes by in provenance (the catalogue name, or the file/folder stem).
    sha256: of the file it was converted from (the GGUF), or of the folder's weight files.
    source: the GGUF file or the folder itself.
    converted_now: True when this call ran the conversion (False: cache hit, or a plain folder).
    """

    path: Path
    model_id: str
    sha256: str
    source: Path
    converted_now: bool = False


def find_gguf(path: Path) -> Path | None:
    """`path` itself if it is a .gguf file, the one .gguf in a folder, else None."""
    if path.is_file():
        return path if path.suffix == ".gguf" else None
    found = sorted(path.glob("*.gguf")) if path.is_dir() else []
    if len(found) > 1:
        raise ConversionError(f"{path} holds {len(found)} .gguf files ({', '.join(p.name for p in found)}); "
                              "pass the path of the one to train from")
    return found[0] if found else None


def trainable_base(spec: str | os.PathLike[str], *, force: bool = False, progress: bool = True) -> TrainableBase:
    """The trainable folder for `spec` — a catalogue name (`smollm2-135m`), a .gguf path, or a
    transformers model folder — converting a GGUF into CAIRN_HOME/models/<name>-hf on first use."""
    text = os.fspath(spec)
    path = resolve_model(text)
    gguf = find_gguf(path)
    if gguf is None:
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise ConversionError(f"base {text!r} resolves to {path}, which is neither a .gguf file nor a "
                                  "transformers model folder (config.json + weights); pass one of those, "
                                  "or a catalogue name such as smollm2-135m")
        return _plain_folder(path)
    model_id = text if text in catalogue_names() else gguf.stem.lower()
    return convert_gguf(gguf, models_dir() / f"{model_id}{CONVERTED_SUFFIX}", model_id=model_id,
                        force=force, progress=progress)


def _plain_folder(path: Path) -> TrainableBase:
    """A folder we did not convert: reuse our own record if it has one, else hash its weights."""
    record = read_provenance(path)
    if record is not None and "source" in record:
        return TrainableBase(path, record["model_id"], record["source"]["sha256"], Path(record["source"]["path"]))
    weights = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ConversionError(f"model folder {path} has no weight file (*.safetensors or *.bin); "
                              "save the model there with save_pretrained first")
    digest = _digest_files(weights)
    return TrainableBase(path, path.name, digest, path)


def _digest_files(files: list[Path]) -> str:
    if len(files) == 1:
        return artifact_digest(files[0], progress=False)
    tree = hashlib.sha256()
    for f in files:
        tree.update(f"{f.name}\0{artifact_digest(f, progress=False)}\n".encode())
    return tree.hexdigest()


def read_provenance(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cached(out: Path, gguf: Path) -> dict[str, Any] | None:
    """The record of a finished conversion of this very GGUF, or None. Size + mtime equal to
    the recorded ones means unchanged (no re-hash); otherwise the sha256 decides."""
    record = read_provenance(out)
    if record is None or not (out / "config.json").is_file():
        return None
    src, st = record.get("source", {}), gguf.stat()
    if (src.get("size_bytes"), src.get("mtime_ns")) == (st.st_size, st.st_mtime_ns):
        return record
    return record if src.get("sha256") == artifact_digest(gguf, progress=False) else None


def convert_gguf(gguf: Path, out: Path, *, model_id: str, force: bool = False,
                 progress: bool = True) -> TrainableBase:
    """Dequantize `gguf` into the transformers folder `out` (skipped when `out` already holds
    this file's conversion, unless `force`). Returns the folder and its provenance."""
    gguf = gguf.resolve()
    record = None if force else _cached(out, gguf)
    if record is not None:
        return TrainableBase(out, record["model_id"], record["source"]["sha256"], gguf)
    started = time.perf_counter()
    model, tokenizer = load_gguf(gguf, progress=progress)
    strip_gguf_quantizer(model)
    with staged_dir(out) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        st = gguf.stat()
        record = stamp(kind="converted-model", model_id=model_id, format="transformers",
                       dtype=str(model.dtype).removeprefix("torch."),
                       parameters=sum(p.numel() for p in model.parameters()),
                       source={"path": str(gguf), "sha256": artifact_digest(gguf, progress=False),
                               "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns},
                       chat_template=getattr(tokenizer, "chat_template", None),
                       seconds=round(time.perf_counter() - started, 2))
        (staging / PROVENANCE_FILE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    return TrainableBase(out, model_id, record["source"]["sha256"], gguf, converted_now=True)


def load_gguf(gguf: Path, *, progress: bool = True) -> tuple[Any, Any]:
    """The model (dense float32 nn.Linear weights) and tokenizer transformers builds from a GGUF.

    `dequantize=True` is explicit: with the optional `kernels` package present, transformers
    would otherwise keep packed GgufLinear blocks, which neither train nor save."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    from transformers.utils.quantization_config import GgufConfig

    quiet = not progress and hf_logging.is_progress_bar_enabled()
    if quiet:
        hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, local_files_only=True,
            quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True))
    except (OSError, ValueError, KeyError) as exc:
        raise ConversionError(f"transformers could not read {gguf} ({type(exc).__name__}: {exc}); check the file "
                              "with `cairn models pull <name> --verify`, or pass a transformers model folder") from exc
    finally:
        if quiet:
            hf_logging.enable_progress_bar()
    return model, tokenizer


def strip_gguf_quantizer(model: Any) -> None:
    """Make a GGUF-loaded model an ordinary dense one, in place (DESIGN.md §6): without the
    quantizer and its config entry, save_pretrained writes plain safetensors and the reloaded
    folder is trainable. Refuses if any weight is still packed (not a float tensor)."""
    packed = [name for name, p in model.named_parameters() if not p.is_floating_point()]
    if packed:
        raise ConversionError(f"{len(packed)} weights are still GGUF-packed (e.g. {packed[0]}); uninstall the "
                              "`kernels` package (DESIGN.md §6) so transformers dequantizes on load")
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # transformers 5 derives is_quantized from hf_quantizer; older versions kept a plain flag.
    if isinstance(getattr(type(model), "is_quantized", None), property):
        assert not model.is_quantized
    else:
        model.is_quantized = False
