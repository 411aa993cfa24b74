"""`cairn quantize MODEL --format nf4|int8|gguf-q8_0|gguf-q4_0|gguf-q4_k_m|gguf-f16`: a quantized
build of a transformers model folder (a merged fine-tune, or a converted base), with provenance.

    MODEL ─ convert.trainable_base (catalogue name / .gguf / folder → dense folder)
      ├─ nf4, int8   the seven projections of every block → NF4Linear / Int8Linear (our
      │              QuantLinear modules); everything else kept dense in `dense_dtype`
      │              ─▶ OUT/ model.safetensors + quantization.json + config/tokenizer + provenance.json
      └─ gguf-*      gguf_export.export_gguf with the metadata of the GGUF the model came from
                     ─▶ OUT/<model>.<type>.gguf + provenance.json   (llama.cpp serves it)

The nf4/int8 folder format (load it back with `load_quantized`; hf.py does so by itself):

    model.safetensors   every tensor of the model, except that each quantized Linear `<m>`
                        stores its QuantLinear buffers instead of `<m>.weight`:
                          nf4:  <m>.packed (⌈n/2⌉,) uint8 — two 4-bit indices per byte, high
                                nibble first; <m>.absmax_q (n/64,) uint8, <m>.absmax2
                                (⌈n/64/256⌉,) f32, <m>.offset () f32 (double quant; without
                                it <m>.absmax (n/64,) f32) — the layout of bitsandbytes' nf4
                          int8: <m>.qweight (out, in) int8, <m>.absmax (out,) f32; zeropoint
                                mode: uint8 qweight, <m>.scale (out,) f32, <m>.zero_point (out,) i32
                        plus <m>.bias (f32) where the layer has one. A tied lm_head is left
                        out and re-tied on load.
    quantization.json   {"format", "modules": [names], "nf4": {block_size, double_quant,
                        dq_block_size} | "int8": {mode}, "dense_dtype"}

Why our own modules rather than bitsandbytes serialization: the NF4 codes are already
bit-identical to bitsandbytes' (tests/test_ft_quant.py), so the format loses nothing and
`qlora.nf4_weight_from_bnb` reads bnb weights into it; but bnb's CPU path repacks 4-bit
weights into an inference-only layout on the first no-grad forward (DESIGN.md §6), its int8
path is LLM.int8()'s mixed-precision matmul built for CUDA, and a bnb checkpoint needs bnb to
open. Ours is plain safetensors any reader can parse, with the format written down above.
The forward dequantizes then runs a dense matmul: these builds save disk and memory, not
time — fast CPU serving is the GGUF builds' job.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from finetune.sft import OutputExistsError, arg_help
from knowledge.atomic import staged_dir
from knowledge.errors import CairnError

FORMATS = ("nf4", "int8", "gguf-q8_0", "gguf-q4_0", "gguf-q4_k_m", "gguf-f16")
MANIFEST = "quantization.json"
PROVENANCE = "provenance.json"


class QuantizeConfigError(CairnError, ValueError):
    """A quantize setting or input that does not fit."""


@dataclass(frozen=True)
class QuantizeConfig:
    """One quantized build; every field is also a CLI flag (build_cli derives them)."""

    model: str = field(metadata={**arg_help(
        "model folder (a `cairn merge` output), .gguf file or catalogue name (smollm2-135m)"), "positional": True})
    format: Literal["nf4", "int8", "gguf-q8_0", "gguf-q4_0", "gguf-q4_k_m", "gguf-f16"] = field(metadata=arg_help(
        "nf4 / int8: our QuantLinear weights in a transformers folder (backend hf); gguf-*: a GGUF file that "
        "llama.cpp serves (q4_k_m by llama.cpp's own quantizer)"))
    out: str = field(default="", metadata=arg_help("output folder (default: $CAIRN_HOME/builds/<model>-<format>)"))
    source_gguf: str = field(default="", metadata=arg_help(
        "gguf-*: GGUF whose tokenizer, chat template and metadata to copy (default: the one MODEL was converted from)"))
    block_size: int = field(default=64, metadata=arg_help("nf4: weights per absmax block"))
    no_double_quant: bool = field(default=False, metadata=arg_help("nf4: keep the block scales in float32"))
    int8_mode: Literal["absmax", "zeropoint"] = field(default="absmax", metadata=arg_help(
        "int8: symmetric absmax or asymmetric zero-point, one scale per row"))
    dense_dtype: Literal["bfloat16", "float32"] = field(default="bfloat16", metadata=arg_help(
        "nf4/int8: dtype of the tensors left unquantized (embeddings, norms)"))
    modules: tuple[str, ...] = field(default=(), metadata=arg_help(
        "nf4/int8: Linear layers to quantize (default: the seven projections of every block)"))
    threads: int = field(default=0, metadata=arg_help("torch CPU threads (0 = torch's default)"))
    force: bool = field(default=False, metadata=arg_help("replace an existing build in --out"))

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise QuantizeConfigError(f"unknown format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if not self.model:
            raise QuantizeConfigError("MODEL is empty; pass a model folder, .gguf file or catalogue name")
        if self.threads < 0:
            raise QuantizeConfigError(f"threads={self.threads} must be >= 0 (0 = torch's default)")
        if self.source_gguf and not self.format.startswith("gguf-"):
            raise QuantizeConfigError(f"--source-gguf only applies to gguf-* formats, not {self.format!r}")
        object.__setattr__(self, "modules", (self.modules,) if isinstance(self.modules, str) else tuple(self.modules))
        self.nf4_config()  # validates block_size

    def nf4_config(self) -> Any:
        from finetune.quant_nf4 import NF4Config

        return NF4Config(block_size=self.block_size, double_quant=not self.no_double_quant)

    def to_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class QuantizeResult:
    """out: the build folder; artifact: what a loader opens (the .gguf file, or the folder)."""

    out: Path
    artifact: Path
    format: str
    size_bytes: int
    provenance: dict[str, Any]


# -- nf4 / int8 folders ---------------------------------------------------------------------------------

def quantize_linears(model: Any, fmt: str, cfg: QuantizeConfig) -> tuple[list[str], list[float]]:
    """Swap the targeted nn.Linear layers of `model` for NF4Linear / Int8Linear in place.
    Returns their names and each weight's relative RMS quantization error."""
    import torch

    from finetune.lora import LLAMA_PROJECTIONS, replace_linears
    from finetune.quant_int8 import Int8Config, Int8Linear
    from finetune.quant_nf4 import NF4Linear

    errors: list[float] = []
    nf4, int8 = cfg.nf4_config(), Int8Config(cfg.int8_mode)

    def swap(linear: torch.nn.Linear) -> torch.nn.Module:
        q = NF4Linear.from_linear(linear, nf4) if fmt == "nf4" else Int8Linear.from_linear(linear, int8)
        w = linear.weight.detach().float()
        errors.append(float((q.dequantize_weight() - w).pow(2).mean().sqrt() / w.pow(2).mean().sqrt().clamp_min(1e-12)))
        return q

    names = replace_linears(model, cfg.modules or LLAMA_PROJECTIONS, swap)
    return names, errors


def quantized_state_dict(model: Any, dense_dtype: Any) -> dict[str, Any]:
    """The state dict to save: float tensors of dense modules cast to `dense_dtype`, quantized
    layers' buffers as they are, a tied lm_head left out."""
    from finetune.quant_int8 import QuantLinear

    quant_prefixes = tuple(f"{n}." for n, m in model.named_modules() if isinstance(m, QuantLinear))
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    out = {}
    for key, t in model.state_dict().items():
        if tied and key == "lm_head.weight":
            continue
        keep = key.startswith(quant_prefixes) or not t.is_floating_point()
        out[key] = (t if keep else t.to(dense_dtype)).contiguous()
    return out


def write_quantized_folder(model: Any, tokenizer: Any, staging: Path, fmt: str, names: list[str],
                           cfg: QuantizeConfig) -> None:
    import torch
    from safetensors.torch import save_file

    model.config.save_pretrained(staging)
    model.generation_config.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    save_file(quantized_state_dict(model, getattr(torch, cfg.dense_dtype)), staging / "model.safetensors",
              metadata={"format": "pt"})
    manifest: dict[str, Any] = {"format": fmt, "modules": names, "dense_dtype": cfg.dense_dtype}
    if fmt == "nf4":
        manifest["nf4"] = asdict(cfg.nf4_config())
    else:
        manifest["int8"] = {"mode": cfg.int8_mode}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def is_quantized_folder(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def load_quantized(folder: str | os.PathLike[str], dtype: Any = None) -> Any:
    """The causal LM of an nf4/int8 build folder (eval mode). Dense tensors are cast to
    `dtype` (default: the stored dense dtype); quantized layers dequantize to the input's dtype."""
    import torch
    from accelerate import init_empty_weights
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    from finetune.quant_int8 import Int8Linear
    from finetune.quant_nf4 import NF4Config, NF4Linear, NF4Weight

    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        tensors = load_file(folder / "model.safetensors")
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise QuantizeConfigError(f"{folder} is not a readable nf4/int8 build ({exc}); rebuild it with "
                                  "`cairn quantize MODEL --format nf4|int8`") from exc
    dtype = dtype or getattr(torch, manifest["dense_dtype"])
    with init_empty_weights(include_buffers=False):  # parameters on meta; rotary buffers real
        model = AutoModelForCausalLM.from_config(config)
    for name in manifest["modules"]:
        part = {k[len(name) + 1:]: tensors.pop(k) for k in [k for k in tensors if k.startswith(name + ".")]}
        bias = part.pop("bias", None)
        linear = model.get_submodule(name)
        if manifest["format"] == "nf4":
            q = NF4Weight(shape=(linear.out_features, linear.in_features), config=NF4Config(**manifest["nf4"]), **part)
            layer = NF4Linear(q, bias)
        else:
            layer = Int8Linear.from_codes(manifest["int8"]["mode"], part, bias)
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, layer)
    model.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()},
                          strict=False, assign=True)
    if getattr(config, "tie_word_embeddings", False):
        model.lm_head.weight = model.get_input_embeddings().weight
    if (folder / "generation_config.json").is_file():
        from transformers import GenerationConfig

        model.generation_config = GenerationConfig.from_pretrained(folder, local_files_only=True)
    left = [n for n, p in model.named_parameters() if p.is_meta]
    if left:
        raise QuantizeConfigError(f"{folder}/model.safetensors lacks {len(left)} tensor(s), e.g. {left[0]}; "
                                  "the build is incomplete — quantize again")
    return model.eval()


# -- the command ----------------------------------------------------------------------------------------

def default_out(model_id: str, fmt: str) -> Path:
    from knowledge.home import cairn_home

    return cairn_home() / "builds" / f"{model_id}-{fmt}"


def resolve_source(spec: str) -> Any:
    """The dense folder to quantize (convert.trainable_base), refusing adapters with the fix."""
    from finetune.convert import trainable_base

    path = Path(spec).expanduser()
    if (path / "adapter_config.json").is_file():
        raise QuantizeConfigError(f"{spec} is a LoRA adapter, not a model; merge it into its base first: "
                                  f"`cairn merge {spec} --out DIR`, then `cairn quantize DIR`")
    if is_quantized_folder(path):
        raise QuantizeConfigError(f"{spec} is already a quantized build; quantize the dense model it came from")
    return trainable_base(spec, progress=False)


def quantize(cfg: QuantizeConfig) -> QuantizeResult:
    """Build `cfg.format` from `cfg.model` into cfg.out (staged, then moved in with one rename)."""
    from finetune.convert import read_provenance
    from knowledge.models_assemble import artifact_digest
    from knowledge.provenance import stamp

    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    src = resolve_source(cfg.model)
    out = Path(cfg.out) if cfg.out else default_out(src.model_id, cfg.format)
    if out.exists() and any(out.iterdir()) and not cfg.force:
        raise OutputExistsError(f"{out} already holds a build; pass --force to replace it, or choose another --out")
    started = time.perf_counter()
    with staged_dir(out) as staging:
        if cfg.format.startswith("gguf-"):
            artifact_name, details = _gguf_build(src.path, staging, cfg)
        else:
            artifact_name, details = _folder_build(src.path, staging, cfg)
        size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        record = stamp(kind="quantized-model", format=cfg.format, model_id=f"{src.model_id}-{cfg.format}",
                       source={"model_id": src.model_id, "path": str(src.path), "sha256": src.sha256,
                               "source": str(src.source)},
                       source_kind=(read_provenance(src.path) or {}).get("kind", "model"),
                       config=cfg.to_json(), size_bytes=size, seconds=round(time.perf_counter() - started, 2),
                       **details)
        if artifact_name.endswith(".gguf"):
            record["sha256"] = artifact_digest(staging / artifact_name, progress=False)
        (staging / PROVENANCE).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    artifact = out / artifact_name if artifact_name else out
    return QuantizeResult(out, artifact, cfg.format, record["size_bytes"], record)


def _folder_build(src: Path, staging: Path, cfg: QuantizeConfig) -> tuple[str, dict[str, Any]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    fmt = cfg.format
    model = AutoModelForCausalLM.from_pretrained(src, local_files_only=True, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(src, local_files_only=True)
    names, errors = quantize_linears(model, fmt, cfg)
    write_quantized_folder(model, tokenizer, staging, fmt, names, cfg)
    return "", {"quantized_modules": len(names),
                "weight_error": {"mean_rel_rmse": sum(errors) / len(errors), "max_rel_rmse": max(errors)}}


def _gguf_build(src: Path, staging: Path, cfg: QuantizeConfig) -> tuple[str, dict[str, Any]]:
    from finetune.gguf_export import export_gguf
    from knowledge.models_assemble import artifact_digest

    build = cfg.format.removeprefix("gguf-")
    name = f"{src.name.removesuffix('-hf')}.{build}.gguf"
    result = export_gguf(src, staging / name, build, Path(cfg.source_gguf) if cfg.source_gguf else None)
    worst = result.worst()
    return name, {"source_gguf": {"path": str(result.source_gguf),
                                  "sha256": artifact_digest(result.source_gguf, progress=False)},
                  "tensor_types": sorted({t.ggml_type for t in result.tensors}),
                  "weight_error": {"mean_rel_rmse": sum(t.rel_rmse for t in result.tensors) / len(result.tensors),
                                   "max_rel_rmse": worst.rel_rmse, "worst_tensor": worst.name}}
