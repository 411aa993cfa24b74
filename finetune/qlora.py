"""QLoRA: LoRA adapters trained over a frozen 4-bit NF4 base (Dettmers, Pagnoni, Holtzman &
Zettlemoyer, "QLoRA: Efficient Finetuning of Quantized LLMs", NeurIPS 2023, Eq. 5):

    y = dequant(NF4 codes, c1, c2) · x  +  (alpha / r) · B A dropout(x)

The base is never updated, so only its 4-bit codes need storing; gradients flow through the
dequantized base to earlier layers and into A, B (bf16/fp32). This module holds

  * `QLoRALinear` — our scratch version: a LoRALinear whose base is an NF4Linear;
  * `inject_qlora` — swap targeted nn.Linear layers for it;
  * the bitsandbytes bridge: `nf4_weight_from_bnb` reads a bnb `Linear4bit`'s codes into
    our NF4Weight, and `disable_bnb_cpu_repack` guards bnb's CPU fast path.

The CPU pitfall (bitsandbytes 0.50, CPUs with AVX512-BF16): `Linear4bit.forward` in eval
mode with an input that needs no grad — any `generate()` or `torch.no_grad()` evaluation —
permanently repacks the weight into an inference-only layout
(`functional._convert_weight_packed_for_cpu`). From then on the layer computes through the
op `bitsandbytes::gemv_4bit`, which has no autograd formula: the forward stays right, but no
gradient flows back through the frozen base to earlier layers. Their LoRA gradients are then
silently wrong; torch only warns "an autograd kernel was not registered". Setting
`support_avx512bf16_for_cpu = False` on every Linear4bit before the first eval prevents the
repack; tests/test_ft_qlora.py reproduces the bug and checks the fix against a dense model.
"""
from __future__ import annotations

import torch
from torch import nn

from finetune.lora import LoRALinear, replace_linears
from finetune.quant_nf4 import DYNAMIC_8BIT, NF4Config, NF4Linear, NF4Weight, QuantizationError
from knowledge.errors import CairnError


class RepackedWeightsError(CairnError, RuntimeError):
    """A bitsandbytes Linear4bit already repacked into its CPU inference layout."""


class QLoRALinear(LoRALinear):
    """LoRA over a frozen NF4 base. Accepts an nn.Linear (quantized here with `nf4`) or a
    ready NF4Linear. Adapters default to fp32, as peft keeps them (`autocast_adapter_dtype`):
    they are a tiny fraction of the weights, and in fp32 small optimizer updates do not round
    away; inputs in bf16 still run the base matmul in bf16."""

    def __init__(self, base: nn.Linear | NF4Linear, r: int, alpha: float, dropout: float = 0.0,
                 nf4: NF4Config = NF4Config(), adapter_dtype: torch.dtype = torch.float32) -> None:
        if isinstance(base, nn.Linear):
            base = NF4Linear.from_linear(base, nf4)
        elif not isinstance(base, NF4Linear):
            raise QuantizationError(f"QLoRALinear wraps an nn.Linear or NF4Linear, got {type(base).__name__}")
        super().__init__(base, r, alpha, dropout, adapter_dtype=adapter_dtype)

    def to_merged_linear(self) -> nn.Linear:
        """A dense nn.Linear with W = dequant(W_nf4) + (alpha/r)·BA. Merging back into 4 bits
        would round most of a small update away, so the merge leaves the quantized world;
        quantize the merged model again afterwards if a 4-bit export is wanted."""
        linear = self.base.to_linear()
        with torch.no_grad():
            linear.weight.add_(self._checked_delta().float())
        return linear


def inject_qlora(model: nn.Module, target_modules: tuple[str, ...] | list[str], r: int, alpha: float,
                 dropout: float = 0.0, nf4: NF4Config = NF4Config()) -> list[str]:
    """Freeze `model`, quantize each targeted nn.Linear to NF4 and attach LoRA to it.
    Untargeted layers stay dense and frozen (QLoRA also keeps embeddings/norms in 16 bit)."""
    for p in model.parameters():
        p.requires_grad_(False)
    return replace_linears(model, target_modules, lambda lin: QLoRALinear(lin, r, alpha, dropout, nf4))


# -- the bitsandbytes bridge ---------------------------------------------------------------------

def _linear4bit_layers(model: nn.Module) -> dict[str, nn.Module]:
    import bitsandbytes as bnb  # optional at import time; only these helpers need it

    return {n: m for n, m in model.named_modules() if isinstance(m, bnb.nn.Linear4bit)}


def _is_repacked(layer: nn.Module) -> bool:
    state = getattr(layer.weight, "quant_state", None)
    return bool(getattr(state, "packing_format_for_cpu", False))


def disable_bnb_cpu_repack(model: nn.Module) -> int:
    """Set `support_avx512bf16_for_cpu = False` on every bitsandbytes Linear4bit in `model`
    (peft-wrapped or not) so that no eval/generate call repacks the weights into the layout
    that breaks QLoRA gradients. Call it right after loading, before any forward. Returns how
    many layers were patched; raises if a layer was already repacked, since its absmax was
    rounded to bf16 on the way and cannot be restored exactly."""
    layers = _linear4bit_layers(model)
    repacked = [n for n, m in layers.items() if _is_repacked(m)]
    if repacked:
        raise RepackedWeightsError(
            f"{len(repacked)} Linear4bit layer(s) (first: {repacked[0]!r}) were already repacked by an "
            "eval/generate call; reload the model and call disable_bnb_cpu_repack() before any forward")
    for layer in layers.values():
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def nf4_weight_from_bnb(layer: nn.Module) -> NF4Weight:
    """Read a quantized bitsandbytes Linear4bit (nf4) into our NF4Weight, sharing no storage.
    The layouts agree (two indices per byte, high nibble first; flat row-major blocks), so
    this is a copy of the codes and scales, not a re-quantization."""
    state = getattr(layer.weight, "quant_state", None)
    if state is None:
        raise QuantizationError("this Linear4bit is not quantized yet; move it to a device first "
                                "(`layer.to('cpu')` quantizes on CPU)")
    if _is_repacked(layer):
        raise RepackedWeightsError("this Linear4bit was repacked for CPU inference; reload it and call "
                                   "disable_bnb_cpu_repack() before any eval/generate")
    if state.quant_type != "nf4":
        raise QuantizationError(f"only nf4 weights can be read, this layer uses {state.quant_type!r}")
    packed = layer.weight.data.reshape(-1).view(torch.uint8).clone()
    shape = tuple(state.shape)
    if state.nested:
        if not torch.equal(state.state2.code.cpu(), DYNAMIC_8BIT):
            raise QuantizationError("this layer's second-level code is not the 8-bit dynamic map; "
                                    "re-quantize it with compress_statistics=True and the default code")
        cfg = NF4Config(block_size=state.blocksize, double_quant=True, dq_block_size=state.state2.blocksize)
        return NF4Weight(packed=packed, shape=shape, config=cfg, absmax_q=state.absmax.clone(),
                         absmax2=state.state2.absmax.clone(), offset=state.offset.clone())
    cfg = NF4Config(block_size=state.blocksize, double_quant=False)
    return NF4Weight(packed=packed, shape=shape, config=cfg, absmax=state.absmax.float().clone())
