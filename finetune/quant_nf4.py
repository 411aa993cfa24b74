"""4-bit NormalFloat (NF4) block-wise quantization with double quantization of the scales
(Dettmers, Pagnoni, Holtzman & Zettlemoyer, "QLoRA: Efficient Finetuning of Quantized LLMs",
NeurIPS 2023, §3), bit-compatible with bitsandbytes' CPU path.

Pretrained weights are roughly zero-mean normal, so instead of 16 evenly spaced levels NF4
puts its levels at quantiles of N(0, 1): each level covers about the same probability mass,
and every level gets used. The 16 values, rescaled to [-1, 1], are pinned in NF4_CODE;
`normal_float_code()` re-derives them from the normal quantile function.

Quantization of a tensor W (flattened, split into blocks of 64):

    c_b   = max_{j ∈ b} |W_j|                           one fp32 "absmax" per block
    q_j   = argmin_k | W_j / c_b − NF4[k] |             4-bit index, nearest level
    Ŵ_j   = NF4[q_j] · c_b

Two indices are packed per byte, the even-position one in the high nibble (bitsandbytes'
layout). Storage: 4 bits per weight + 32/64 = 0.5 bit per weight for the absmax.

Double quantization (QLoRA §3, "Double Quantization") quantizes those absmax constants
again: subtract their mean (they are all positive, so centring uses the signed code's both
halves), then 8-bit block-wise quantize with blocks of 256 using the 8-bit "dynamic tree"
code of Dettmers (2015, arXiv:1511.04561) that bitsandbytes uses:

    c_b ≈ DYN[q2_b] · c2_B + mean(c)      8 bits per block + 32 bits per 256 blocks

which brings the scale overhead from 0.5 to 8/64 + 32/(64·256) ≈ 0.127 bit per weight.

Nearest-level ties go to the lower index, as in bitsandbytes. Against
`bitsandbytes.functional.quantize_4bit / dequantize_4bit` (CPU, bnb 0.50) the tests find the
NF4 indices, first-level absmax, offset and second-level scales identical bit for bit, and
dequantization identical given the same codes. The one difference: bnb's CPU 8-bit kernel
finds the nearest dynamic-code entry with an approximate search whose decision points sit up
to ~2e-5 away from the exact midpoint, so about 0.1% of the 8-bit absmax indices (near-ties)
land one step apart; here the nearest entry is taken exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from finetune.quant_int8 import QuantizationError, QuantLinear

# The 16 NF4 levels (QLoRA Appendix E; bitsandbytes `get_4bit_type("nf4")`), ascending.
# Index 7 is exact zero, so zero weights (padding, pruned entries) stay zero.
NF4_CODE: tuple[float, ...] = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)

# Probability at which the outermost quantile is taken: the mean of 1 − 1/(2·15) and
# 1 − 1/(2·16), so the extreme level is finite (Φ⁻¹(1) = ∞) yet covers the tails of both
# the 15- and 16-slot halves (QLoRA §3, "4-bit NormalFloat Quantization").
NF4_OFFSET = 0.9677083


def normal_float_code(offset: float = NF4_OFFSET) -> torch.Tensor:
    """Re-derive the 16 NF4 levels: 8 positive quantiles Φ⁻¹(p) at p evenly spaced from
    `offset` down to ½ (excluded), 7 negative ones likewise, and an exact 0 — asymmetric so
    that zero has its own code — then divided by the largest. Returns (16,) float32 ascending."""
    p_pos = torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1]   # (8,)
    p_neg = torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1]   # (7,)
    levels = torch.cat([torch.special.ndtri(p_pos), torch.zeros(1, dtype=torch.float64),
                        -torch.special.ndtri(p_neg)])
    levels = levels / levels.abs().max()
    return levels.sort().values.float()


def dynamic_code_8bit() -> torch.Tensor:
    """The signed 8-bit dynamic-tree code (Dettmers 2015) used for the second-level scales:
    for exponent e = 0..6, the centres of 2^e equal bins of [0.1, 1] scaled by 10^(e−6), both signs,
    plus 0 and 1. Dense near zero, coarse near ±1. Returns (256,) float32 ascending; the
    float32 arithmetic mirrors bitsandbytes' `create_dynamic_map` so the tables are identical."""
    values: list[torch.Tensor] = [torch.tensor([0.0, 1.0])]
    for e in range(7):
        edges = torch.linspace(0.1, 1.0, 2 ** e + 1, dtype=torch.float32)   # (2^e + 1,)
        fractions = (edges[:-1] + edges[1:]) / 2 * (10.0 ** (e - 6))         # (2^e,) bin centres
        values += [fractions, -fractions]
    code = torch.cat(values).sort().values
    assert code.numel() == 256
    return code


NF4 = torch.tensor(NF4_CODE, dtype=torch.float32)   # (16,)
DYNAMIC_8BIT = dynamic_code_8bit()                   # (256,)


# -- block-wise absmax quantization with a lookup code (shared by both levels) -----------------

def nearest_code(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Index of the nearest entry of the ascending `code` for every element of x (values
    already scaled into [-1, 1]); a value exactly between two levels takes the lower one.
    Binary search over the midpoints: O(n log k) time, no (n, k) distance matrix."""
    midpoints = (code[:-1] + code[1:]) / 2                          # (k-1,)
    return torch.bucketize(x, midpoints).to(torch.uint8)           # (n,)


def quantize_blocks(x: torch.Tensor, code: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n,) float → (indices (n,) uint8, absmax (ceil(n/block_size),) float32).
    The last block may be short; it is padded with zeros, which never change a block max."""
    n = x.numel()
    n_blocks = math.ceil(n / block_size)
    blocks = torch.zeros(n_blocks * block_size, dtype=torch.float32, device=x.device)
    blocks[:n] = x.reshape(-1).float()
    blocks = blocks.view(n_blocks, block_size)                      # (n_blocks, block_size)
    absmax = blocks.abs().amax(dim=1)                               # (n_blocks,)
    # An all-zero block keeps absmax 0 (dequantizes to 0); the clamp only avoids 0/0.
    scaled = blocks / absmax.clamp_min(torch.finfo(torch.float32).tiny)[:, None]
    return nearest_code(scaled.reshape(-1), code.to(x.device))[:n], absmax


def dequantize_blocks(indices: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor,
                      block_size: int) -> torch.Tensor:
    """indices (n,) uint8, absmax (n_blocks,) → values (n,) float32 = code[idx] · absmax[block]."""
    values = code.to(indices.device)[indices.long()]                # (n,) levels in [-1, 1]
    full = values.numel() // block_size * block_size                # elements in complete blocks
    out = torch.empty_like(values)
    out[:full] = (values[:full].view(-1, block_size) * absmax[: full // block_size, None]).reshape(-1)
    out[full:] = values[full:] * absmax[-1]                         # a short last block, if any
    return out


def pack_nibbles(indices: torch.Tensor) -> torch.Tensor:
    """(n,) uint8 in [0, 16) → (ceil(n/2),) uint8; element 2i → high nibble, 2i+1 → low.
    An odd tail is padded with NF4's zero index (7), as bitsandbytes pads with 0.0."""
    if indices.numel() % 2:
        indices = torch.cat([indices, torch.full((1,), 7, dtype=torch.uint8, device=indices.device)])
    return (indices[0::2] << 4) | indices[1::2]


def unpack_nibbles(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of pack_nibbles: (ceil(n/2),) uint8 → (n,) uint8."""
    out = torch.stack([packed >> 4, packed & 0x0F], dim=1)          # (ceil(n/2), 2)
    return out.reshape(-1)[:n]


# -- NF4 tensors ---------------------------------------------------------------------------

@dataclass(frozen=True)
class NF4Config:
    """block_size: weights per absmax scale (QLoRA and bitsandbytes use 64); even, so that a
        block never splits a packed byte.
    double_quant: also quantize the absmax scales to 8 bits (saves ≈0.37 bit per weight).
    dq_block_size: scales per second-level block (256 in the paper and bitsandbytes)."""

    block_size: int = 64
    double_quant: bool = True
    dq_block_size: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.block_size, int) or self.block_size < 2 or self.block_size % 2:
            raise QuantizationError(f"NF4 block_size must be an even integer ≥ 2, got {self.block_size!r}; "
                                    "use 64 (the QLoRA default)")
        if not isinstance(self.dq_block_size, int) or self.dq_block_size < 1:
            raise QuantizationError(f"dq_block_size must be a positive integer, got {self.dq_block_size!r}; "
                                    "use 256 (the QLoRA default)")


@dataclass
class NF4Weight:
    """A quantized tensor. `packed` (ceil(n/2),) uint8 holds the 4-bit indices. The scales
    are either `absmax` (n_blocks,) float32, or — with double quantization — `absmax_q`
    (n_blocks,) uint8 indices into DYNAMIC_8BIT, `absmax2` (n_blocks/256,) float32 and the
    scalar `offset` (the mean that was subtracted)."""

    packed: torch.Tensor
    shape: tuple[int, ...]
    config: NF4Config
    absmax: torch.Tensor | None = None
    absmax_q: torch.Tensor | None = None
    absmax2: torch.Tensor | None = None
    offset: torch.Tensor | None = None

    def block_scales(self) -> torch.Tensor:
        """The first-level absmax per block, (n_blocks,) float32, undoing double quant if any."""
        if self.absmax is not None:
            return self.absmax
        return dequantize_blocks(self.absmax_q, self.absmax2, DYNAMIC_8BIT, self.config.dq_block_size) + self.offset

    def tensors(self) -> dict[str, torch.Tensor]:
        names = ("packed", "absmax", "absmax_q", "absmax2", "offset")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}


def double_quantize(absmax: torch.Tensor, dq_block_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """absmax (n_blocks,) → (indices (n_blocks,) uint8, absmax2 (ceil(n_blocks/dq)),) float32,
    offset () float32). Centre on the mean first, or the all-positive scales would use only
    half of the signed 8-bit code."""
    offset = absmax.mean()
    indices, absmax2 = quantize_blocks(absmax - offset, DYNAMIC_8BIT, dq_block_size)
    return indices, absmax2, offset


def quantize_nf4(w: torch.Tensor, config: NF4Config = NF4Config()) -> NF4Weight:
    """Any float tensor → NF4Weight (block-wise over the row-major flattening, as bitsandbytes)."""
    if not w.is_floating_point():
        raise QuantizationError(f"NF4 quantizes float tensors, got dtype {w.dtype}; it is already quantized")
    if not torch.isfinite(w).all():
        raise QuantizationError("tensor contains NaN/Inf; one such value would poison its block's absmax "
                                "— fix the checkpoint first")
    indices, absmax = quantize_blocks(w.detach().reshape(-1), NF4, config.block_size)
    q = NF4Weight(packed=pack_nibbles(indices), shape=tuple(w.shape), config=config)
    if config.double_quant:
        q.absmax_q, q.absmax2, q.offset = double_quantize(absmax, config.dq_block_size)
    else:
        q.absmax = absmax
    return q


def dequantize_nf4(q: NF4Weight, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """NF4Weight → tensor of q.shape: NF4[index] · absmax[block], computed in fp32, cast last."""
    n = math.prod(q.shape)
    indices = unpack_nibbles(q.packed, n)
    values = dequantize_blocks(indices, q.block_scales(), NF4, q.config.block_size)
    return values.reshape(q.shape).to(dtype)


class NF4Linear(QuantLinear):
    """nn.Linear with its weight frozen in NF4: ≈4.13 bits per weight with double quant.
    The codes live in buffers named after NF4Weight's fields; forward dequantizes to the
    input's dtype and runs a dense matmul (simple and exact; a fused kernel would be faster).
    Build it with `NF4Linear.from_linear(linear)`, or from codes made elsewhere (e.g. a
    bitsandbytes checkpoint, see qlora.nf4_weight_from_bnb) with `NF4Linear(q, bias)`."""

    def __init__(self, q: NF4Weight, bias: torch.Tensor | None = None) -> None:
        if len(q.shape) != 2:
            raise QuantizationError(f"NF4Linear needs a 2-D (out, in) weight, got shape {q.shape}")
        super().__init__(q.shape[1], q.shape[0], bias)
        self.config, self.shape = q.config, q.shape                 # shape: (out, in)
        for name, t in q.tensors().items():
            self.register_buffer(name, t)

    @classmethod
    def from_linear(cls, linear: nn.Linear, config: NF4Config = NF4Config()) -> "NF4Linear":
        return cls(quantize_nf4(linear.weight.detach(), config), linear.bias)

    def nf4_weight(self) -> NF4Weight:
        fields = {k: getattr(self, k, None) for k in ("packed", "absmax", "absmax_q", "absmax2", "offset")}
        return NF4Weight(shape=self.shape, config=self.config, **fields)

    def dequantize_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return dequantize_nf4(self.nf4_weight(), dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, block_size={self.config.block_size}, double_quant={self.config.double_quant}"
