"""Export a transformers model folder to a GGUF file that llama.cpp serves (the `gguf-*`
formats of `cairn quantize`), with the `gguf` package's writer and numpy quantizers.

Our bases come from GGUF files (convert.py), so an export does not rebuild a tokenizer or a
chat template: it copies every metadata key of the *source* GGUF (architecture hyper-
parameters, tokenizer.ggml.*, tokenizer.chat_template, …) and writes the model's current
tensors under the source file's own tensor names, in its order:

    source.gguf ─── metadata: every key but file_type ──────────────────┐
        │ tensor names, shapes, order                                   │
        ▼                                                               ▼
    model folder ─▶ HF → GGUF names ─▶ permute q/k ─▶ quantize ─────▶ out.gguf
    (safetensors)   (gguf-py's table)  (llama only)   (Q8_0/Q4_0/F16;    │
                                                       1-D tensors F32)  │
                    report: each tensor read back, dequantized, compared ◀┘

The llama q/k permutation. HF's Llama rotates pairs (i, i + d/2) of each head ("rotate_half"),
llama.cpp's rope rotates adjacent pairs (2i, 2i + 1). llama.cpp's convert_hf_to_gguf.py
therefore permutes the rows of q_proj and k_proj head by head,

    W (n_head·d, in) → reshape (n_head, 2, d/2, in) → swap axes 1, 2 → reshape back,

and transformers' GGUF loader undoes it (`LlamaTensorProcessor._reverse_permute_weights`,
with n_head_kv heads for k). Qwen2 GGUFs use NEOX-style rope, the HF layout, so its tensors
are written as they are. `verify_against_source` checks the convention on the real file: the
exported tensors dequantize to the source GGUF's own tensors (exactly, when nothing was trained).

Which tensors are quantized (llama.cpp's `llama_tensor_get_type` rules, simplified): every
2-D tensor whose rows are a whole number of 32-value blocks gets the build's type; 1-D tensors
(norms, biases) stay F32. For Q4_0, the output projection — `output.weight`, or
`token_embd.weight` when the model ties it to the input embedding — is written as Q8_0:
llama.cpp gives it Q6_K because 4 bits there cost the most quality, and gguf.quants can write
Q8_0 but not Q6_K.

K-quants (q4_k_m): gguf.quants cannot write them, but llama.cpp's own quantizer is in the
library llama-cpp-python loads (`llama_model_quantize`, the code behind the `llama-quantize`
tool). So a q4_k_m build is an f16 export handed to it, with llama.cpp's per-tensor type
rules (Q6_K for the output and half of ffn_down/attn_v, Q4_K elsewhere; rows that are not a
multiple of 256 fall back to Q5_0/Q8_0 — all of SmolLM2's, whose width is 576).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np

from knowledge.errors import CairnError

GGUFType = Literal["q8_0", "q4_0", "f16", "q4_k_m"]
BUILDS = ("q8_0", "q4_0", "f16", "q4_k_m")
LLAMA_CPP_BUILDS = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}  # built by llama.cpp's quantizer
QK = 32  # values per Q8_0 / Q4_0 block
# config.json model_type → (GGUF architecture, whether q/k rows are permuted for llama.cpp's rope)
SUPPORTED_ARCHS: dict[str, tuple[str, bool]] = {"llama": ("llama", True), "qwen2": ("qwen2", False)}
# Keys the writer sets itself, or that describe the old tensors rather than the model.
_SKIPPED_KEYS = ("general.architecture", "general.file_type", "general.quantization_version")


class GGUFExportError(CairnError, ValueError):
    """A model that cannot be written as GGUF (unknown architecture, no source GGUF, shapes
    that disagree with the source)."""


# -- pure tensor functions -------------------------------------------------------------------------

def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF → llama.cpp row order of q_proj/k_proj, (n_head·d, in) → same shape (module docstring).
    For k_proj pass the number of key/value heads."""
    rows = w.shape[0]
    assert rows % (2 * n_head) == 0, (rows, n_head)
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp → HF row order; the inverse of permute_qk (as transformers' GGUF loader)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def tensor_type(name: str, shape: tuple[int, ...], build: GGUFType, tied: bool) -> Any:
    """The GGML type a tensor is written in (module docstring)."""
    from gguf import GGMLQuantizationType as T

    if len(shape) == 1:
        return T.F32
    if build == "f16":
        return T.F16
    if shape[-1] % QK:
        return T.F16  # rows that are not whole blocks cannot be block-quantized
    is_output = name == "output.weight" or (tied and name == "token_embd.weight")
    if build == "q4_0" and is_output:
        return T.Q8_0
    return T.Q8_0 if build == "q8_0" else T.Q4_0


def encode_tensor(values: np.ndarray, ggml_type: Any) -> np.ndarray:
    """float32 (rows, cols) → the bytes/values the writer stores for `ggml_type`."""
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    if ggml_type == T.F32:
        return values.astype(np.float32)
    if ggml_type == T.F16:
        return values.astype(np.float16)
    return quants.quantize(values.astype(np.float32), ggml_type)


def decode_tensor(tensor: Any) -> np.ndarray:
    """A GGUFReader tensor → float32 in HF shape order (rows, cols)."""
    from gguf import quants

    shape = tuple(int(n) for n in reversed(tensor.shape))  # GGUF lists dims innermost first
    return quants.dequantize(np.asarray(tensor.data), tensor.tensor_type).reshape(shape).astype(np.float32)


# -- names -------------------------------------------------------------------------------------------

def read_hf_config(model_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GGUFExportError(f"{model_dir} has no readable config.json ({exc}); pass a transformers model "
                              "folder (a merged model, or a converted base from `cairn sft`)") from exc


def load_weights(model_dir: Path) -> dict[str, Any]:
    """Every tensor of the folder's safetensors file(s), as torch tensors."""
    from safetensors.torch import load_file

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise GGUFExportError(f"{model_dir} holds no *.safetensors weights; save the model with "
                              "save_pretrained (safe_serialization) first")
    weights: dict[str, Any] = {}
    for f in files:
        weights.update(load_file(f))
    return weights


def hf_to_gguf_names(arch: str, n_layers: int, hf_names: list[str]) -> dict[str, str]:
    """HF state-dict key → GGUF tensor name, from gguf-py's table (the one transformers uses)."""
    import gguf

    arch_id = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    table = gguf.get_tensor_name_map(arch_id, n_layers)
    out = {}
    for key in hf_names:
        stem, dot, suffix = key.rpartition(".")
        name = table.get_name(stem) if dot and suffix in ("weight", "bias") else None
        if name is not None:
            out[key] = f"{name}.{suffix}"
    return out


# -- source GGUF --------------------------------------------------------------------------------------

def find_source_gguf(model_dir: Path, depth: int = 4) -> Path | None:
    """The GGUF a folder descends from, following provenance.json records: a converted base
    records `source.path`; merges, adapters and quantized builds record their `base`/`source`
    folder, whose own record is followed in turn."""
    record = _provenance(model_dir)
    for key in ("source", "base"):
        entry = record.get(key) if isinstance(record.get(key), dict) else {}
        for field in ("path", "source"):
            value = entry.get(field)
            if not value:
                continue
            path = Path(value)
            if path.suffix == ".gguf" and path.is_file():
                return path
            if path.is_dir() and path.resolve() != model_dir.resolve() and depth > 0:
                found = find_source_gguf(path, depth - 1)
                if found is not None:
                    return found
    return None


def _provenance(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- export ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorReport:
    """How one tensor came out: GGUF name, type, and its error against the HF weight after
    dequantization (max |Δ| and RMS of Δ over RMS of the weight)."""

    name: str
    ggml_type: str
    max_abs_err: float
    rel_rmse: float


@dataclass(frozen=True)
class ExportResult:
    path: Path
    source_gguf: Path
    build: GGUFType
    size_bytes: int
    tensors: tuple[TensorReport, ...]

    def worst(self) -> TensorReport:
        return max(self.tensors, key=lambda t: t.rel_rmse)


def gguf_ready_tensors(model_dir: Path, reader: Any) -> tuple[dict[str, np.ndarray], bool]:
    """The folder's weights as float32 numpy arrays keyed by the source GGUF's tensor names,
    in llama.cpp's row order; and whether the output projection is tied to the embedding."""
    config = read_hf_config(model_dir)
    model_type = config.get("model_type", "?")
    arch = _field(reader, "general.architecture")
    if model_type not in SUPPORTED_ARCHS:
        raise GGUFExportError(f"GGUF export supports {sorted(SUPPORTED_ARCHS)} models, {model_dir} is "
                              f"{model_type!r}; serve it with backend=hf instead")
    if SUPPORTED_ARCHS[model_type][0] != arch:
        raise GGUFExportError(f"the source GGUF is a {arch!r} model but {model_dir} is {model_type!r}; "
                              "pass the GGUF this model was converted from (--source-gguf)")
    weights = load_weights(model_dir)
    names = hf_to_gguf_names(arch, int(config["num_hidden_layers"]), list(weights))
    by_gguf = {g: h for h, g in names.items()}
    n_head = int(config["num_attention_heads"])
    n_kv = int(config.get("num_key_value_heads") or n_head)
    tied = "output.weight" not in {t.name for t in reader.tensors}
    out: dict[str, np.ndarray] = {}
    for t in reader.tensors:
        key = by_gguf.get(t.name)
        if key is None:
            raise GGUFExportError(f"the source GGUF has tensor {t.name!r} but {model_dir} has no weight that "
                                  "maps to it; the folder is not this GGUF's architecture")
        w = weights[key].detach().float().numpy()
        if SUPPORTED_ARCHS[model_type][1] and ".attn_q." in t.name:
            w = permute_qk(w, n_head)
        elif SUPPORTED_ARCHS[model_type][1] and ".attn_k." in t.name:
            w = permute_qk(w, n_kv)
        expected = tuple(int(n) for n in reversed(t.shape))
        if w.shape != expected:
            raise GGUFExportError(f"{key} has shape {w.shape} but the source GGUF's {t.name} is {expected}; "
                                  "export needs the source's architecture and vocabulary")
        out[t.name] = w
    unused = sorted(k for k in weights if k not in names or names[k] not in out)
    unused = [k for k in unused if not (k == "lm_head.weight" and tied)]
    if unused:
        raise GGUFExportError(f"{len(unused)} weight(s) of {model_dir} have no tensor in the source GGUF "
                              f"(e.g. {unused[0]}); they would be lost — is this the right source GGUF?")
    return out, tied


def _field(reader: Any, key: str) -> Any:
    field = reader.get_field(key)
    return field.contents() if field is not None else None


def copy_metadata(reader: Any, writer: Any, build: GGUFType) -> None:
    """Every key of the source GGUF but those in _SKIPPED_KEYS, with the same types; then the
    build's file type (gguf_new_metadata.py copies keys the same way)."""
    import gguf

    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in _SKIPPED_KEYS:
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub_type)
    file_type = {"q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
                 "f16": gguf.LlamaFileType.MOSTLY_F16}[build]
    writer.add_file_type(int(file_type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def export_gguf(model_dir: Path, out: Path, build: GGUFType, source_gguf: Path | None = None) -> ExportResult:
    """Write `model_dir`'s weights as `out` (a .gguf file, replaced atomically), quantized per
    `build`, with `source_gguf`'s metadata (default: the GGUF the folder descends from).
    Reads the file back and reports each tensor's dequantization error."""
    import gguf

    if build not in BUILDS:
        raise GGUFExportError(f"unknown GGUF build {build!r}; use one of {', '.join(BUILDS)}")
    model_dir = Path(model_dir)
    source = Path(source_gguf) if source_gguf else find_source_gguf(model_dir)
    if source is None or not source.is_file():
        raise GGUFExportError(f"cannot tell which GGUF {model_dir} was converted from (no provenance chain to a "
                              ".gguf); pass --source-gguf FILE, the GGUF whose tokenizer and template to copy")
    reader = gguf.GGUFReader(str(source))
    tensors, tied = gguf_ready_tensors(model_dir, reader)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    written = build if build not in LLAMA_CPP_BUILDS else "f16"
    f16 = Path(tmp + ".f16") if written != build else None
    try:
        write_gguf(f16 or Path(tmp), reader, tensors, written, tied)
        if f16 is not None:
            llama_cpp_quantize(f16, Path(tmp), LLAMA_CPP_BUILDS[build])
        reports = compare_tensors(gguf.GGUFReader(tmp), tensors)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
        if f16 is not None:
            f16.unlink(missing_ok=True)
    return ExportResult(out, source, build, out.stat().st_size, reports)


def write_gguf(path: Path, reader: Any, tensors: Mapping[str, np.ndarray], build: GGUFType, tied: bool) -> None:
    """Write `tensors` (GGUF names, float32, llama.cpp row order) with `reader`'s metadata."""
    import gguf

    writer = gguf.GGUFWriter(str(path), _field(reader, "general.architecture"))
    copy_metadata(reader, writer, build)
    for name, values in tensors.items():
        ggml_type = tensor_type(name, values.shape, build, tied)
        data = encode_tensor(values, ggml_type)
        writer.add_tensor(name, data, raw_shape=data.shape, raw_dtype=ggml_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def llama_cpp_quantize(src: Path, dst: Path, ftype: str, threads: int = 1) -> None:
    """Quantize a GGUF with llama.cpp's own quantizer (`llama_model_quantize`)."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise GGUFExportError(f"K-quant builds need llama-cpp-python ({exc}); install it, or use gguf-q8_0 / "
                              "gguf-q4_0, which the gguf package writes itself") from exc
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype)
    params.nthread = threads
    try:  # llama.cpp logs a line per tensor to the C stderr; keep the CLI quiet as Llama(verbose=False) does
        from llama_cpp._utils import suppress_stdout_stderr

        quiet: Any = suppress_stdout_stderr(disable=False)
    except ImportError:
        from contextlib import nullcontext

        quiet = nullcontext()
    with quiet:
        status = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if status != 0:
        raise GGUFExportError(f"llama.cpp could not quantize {src} to {ftype} (status {status}); use gguf-q8_0 "
                              "or gguf-q4_0")


def compare_tensors(reader: Any, expected: Mapping[str, np.ndarray]) -> tuple[TensorReport, ...]:
    """Dequantize every tensor of `reader` and compare with `expected` (same names)."""
    reports = []
    for t in reader.tensors:
        got, want = decode_tensor(t), expected[t.name]
        if got.shape != want.shape:
            raise GGUFExportError(f"{t.name} reads back as {got.shape}, wrote {want.shape}; the writer is broken")
        diff = got - want
        rms = float(np.sqrt(np.mean(want.astype(np.float64) ** 2))) or 1.0
        reports.append(TensorReport(t.name, t.tensor_type.name, float(np.abs(diff).max(initial=0.0)),
                                    float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))) / rms))
    return tuple(reports)


def verify_against_source(result: ExportResult) -> dict[str, float]:
    """max |Δ| per tensor between the export and its source GGUF, both dequantized: the check
    that names and the q/k permutation are right (0 up to re-rounding for an untrained model)."""
    import gguf

    mine = {t.name: t for t in gguf.GGUFReader(str(result.path)).tensors}
    return {t.name: float(np.abs(decode_tensor(mine[t.name]) - decode_tensor(t)).max(initial=0.0))
            for t in gguf.GGUFReader(str(result.source_gguf)).tensors}
