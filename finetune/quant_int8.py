"""INT8 weight quantization, one scale per output row: symmetric absmax (the vector-wise
scheme of Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for Transformers at
Scale", NeurIPS 2022) and asymmetric zero-point (affine) quantization (Jacob et al.,
"Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
Inference", CVPR 2018). Also home of `QuantLinear`, the frozen dequantize-on-the-fly Linear
that every weight format in this package (INT8 here, NF4 in quant_nf4.py) plugs into.

Absmax (symmetric), per row i of W (out, in):
    c_i = max_j |W_ij|             q_ij = round(127 · W_ij / c_i) ∈ [-127, 127]
    Ŵ_ij = q_ij · c_i / 127
  Zero maps to 0 exactly; the row's extreme maps to ±127. One outlier stretches c_i and
  coarsens the whole row — the problem LLM.int8() solves by splitting out outlier columns.

Zero-point (asymmetric), per row, range [lo, hi] widened to contain 0:
    s_i = (hi − lo) / 255          z_i = round(−lo / s_i) ∈ [0, 255]
    q_ij = clamp(round(W_ij / s_i) + z_i, 0, 255)           Ŵ_ij = (q_ij − z_i) · s_i
  All 256 levels cover [lo, hi] even when the row is lopsided (e.g. post-ReLU); widening
  to include 0 makes 0 exactly representable (Jacob et al., §2.1), as padding needs.

Rounding is torch.round (half to even), as in bitsandbytes and torch.ao; the tests check
codes against `bitsandbytes.functional.int8_vectorwise_quant` and scales/zero points
against torch.ao's `PerChannelMinMaxObserver`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from knowledge.errors import CairnError

# Smallest normal float32: a stand-in scale for all-zero rows so 0/scale stays 0, not NaN.
_TINY = torch.finfo(torch.float32).tiny


class QuantizationError(CairnError, ValueError):
    """A tensor or setting that the quantizer cannot handle."""


def _check_matrix(w: torch.Tensor) -> None:
    if w.ndim != 2 or not w.is_floating_point():
        raise QuantizationError(f"expected a 2-D float weight (out, in), got shape {tuple(w.shape)} "
                                f"dtype {w.dtype}; reshape to (rows, cols) first")
    if not torch.isfinite(w).all():
        raise QuantizationError("weight contains NaN/Inf; quantizing it would poison every scale — "
                                "fix the checkpoint first")


# -- symmetric absmax ---------------------------------------------------------------------

def absmax_quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w (rows, cols) float → (q (rows, cols) int8, absmax (rows,) float32)."""
    _check_matrix(w)
    w = w.float()
    absmax = w.abs().amax(dim=1)                                     # (rows,)
    q = torch.round(127.0 * w / absmax.clamp_min(_TINY)[:, None])    # (rows, cols) in [-127, 127]
    return q.to(torch.int8), absmax


def absmax_dequantize(q: torch.Tensor, absmax: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """q (rows, cols) int8, absmax (rows,) → Ŵ (rows, cols)."""
    return (q.float() * (absmax[:, None] / 127.0)).to(dtype)


# -- asymmetric zero-point ------------------------------------------------------------------

def zeropoint_quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """w (rows, cols) float → (q (rows, cols) uint8, scale (rows,) float32, zero_point (rows,) int32)."""
    _check_matrix(w)
    w = w.float()
    lo = w.amin(dim=1).clamp(max=0.0)                                # (rows,) range must contain 0
    hi = w.amax(dim=1).clamp(min=0.0)
    scale = ((hi - lo) / 255.0).clamp_min(_TINY)                     # (rows,)
    zero_point = torch.round(-lo / scale).clamp(0, 255).to(torch.int32)
    q = torch.round(w / scale[:, None]) + zero_point[:, None]
    return q.clamp(0, 255).to(torch.uint8), scale, zero_point


def zeropoint_dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """q (rows, cols) uint8 → Ŵ = (q − z)·s, shape (rows, cols)."""
    return ((q.to(torch.int32) - zero_point[:, None]).float() * scale[:, None]).to(dtype)


# -- the frozen quantized Linear ---------------------------------------------------------------

class _DequantLinear(torch.autograd.Function):
    """y = x Ŵᵀ + b with Ŵ dequantized in forward and again in backward. Plain F.linear would
    make autograd keep the dense Ŵ of every layer until backward (QLoRA then peaked above
    LoRA in memory); here only the module (its 4/8-bit buffers) is kept, as bitsandbytes does.
    The codes and bias are frozen buffers, so only x gets a gradient: ∂L/∂x = ∂L/∂y · Ŵ."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bias: torch.Tensor | None, module: "QuantLinear") -> torch.Tensor:
        ctx.module, ctx.dtype = module, x.dtype
        with torch.no_grad():
            return F.linear(x, module.dequantize_weight(x.dtype), bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        weight = ctx.module.dequantize_weight(ctx.dtype)  # (out, in)
        return grad.to(ctx.dtype) @ weight, None, None    # (..., out) @ (out, in) → (..., in)


class QuantLinear(nn.Module):
    """A Linear whose weight is stored quantized in buffers (never trained) and dequantized
    on every forward: y = x Ŵᵀ + b. Subclasses store their codes and implement
    `dequantize_weight(dtype)`; the forward, the bias handling and the shapes live here.

    Buffers rather than Parameters: optimizers and `requires_grad` never see the codes, and
    `state_dict()` / `.to()` still carry them.
    """

    def __init__(self, in_features: int, out_features: int, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def dequantize_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (..., in) → (..., out); compute in x's dtype (bf16 is ~4× faster than fp32 on AVX512-BF16).
        bias = None if self.bias is None else self.bias.to(x.dtype)
        if torch.is_grad_enabled() and x.requires_grad:
            return _DequantLinear.apply(x, bias, self)
        return F.linear(x, self.dequantize_weight(x.dtype), bias)

    def to_linear(self) -> nn.Linear:
        """A dense nn.Linear holding the dequantized weight (for merging or export)."""
        lin = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        with torch.no_grad():
            lin.weight.copy_(self.dequantize_weight(torch.float32))
            if self.bias is not None:
                lin.bias.copy_(self.bias)
        return lin

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


@dataclass(frozen=True)
class Int8Config:
    """mode: "absmax" (symmetric, int8 codes) or "zeropoint" (asymmetric, uint8 codes + zero point)."""

    mode: Literal["absmax", "zeropoint"] = "absmax"

    def __post_init__(self) -> None:
        if self.mode not in ("absmax", "zeropoint"):
            raise QuantizationError(f"INT8 mode must be 'absmax' or 'zeropoint', got {self.mode!r}")


class Int8Linear(QuantLinear):
    """nn.Linear with a per-row INT8 weight: 1 byte per weight + 4 (or 8) bytes per row."""

    def __init__(self, linear: nn.Linear, config: Int8Config = Int8Config()) -> None:
        super().__init__(linear.in_features, linear.out_features, linear.bias)
        self.mode = config.mode
        w = linear.weight.detach()                                   # (out, in)
        if self.mode == "absmax":
            q, absmax = absmax_quantize(w)
            self.register_buffer("qweight", q)                       # (out, in) int8
            self.register_buffer("absmax", absmax)                   # (out,)
        else:
            q, scale, zero_point = zeropoint_quantize(w)
            self.register_buffer("qweight", q)                       # (out, in) uint8
            self.register_buffer("scale", scale)                     # (out,)
            self.register_buffer("zero_point", zero_point)           # (out,) int32

    @classmethod
    def from_linear(cls, linear: nn.Linear, config: Int8Config = Int8Config()) -> "Int8Linear":
        return cls(linear, config)

    @classmethod
    def from_codes(cls, mode: str, buffers: dict[str, torch.Tensor],
                   bias: torch.Tensor | None = None) -> "Int8Linear":
        """Rebuild a layer from saved codes (the buffers `state_dict()` holds: qweight plus absmax,
        or scale and zero_point), without quantizing anything again."""
        Int8Config(mode)                                             # validates the mode
        layer = cls.__new__(cls)
        out_features, in_features = buffers["qweight"].shape
        QuantLinear.__init__(layer, in_features, out_features, bias)
        layer.mode = mode
        for name in ("qweight", "absmax") if mode == "absmax" else ("qweight", "scale", "zero_point"):
            layer.register_buffer(name, buffers[name])
        return layer

    def dequantize_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if self.mode == "absmax":
            return absmax_dequantize(self.qweight, self.absmax, dtype)
        return zeropoint_dequantize(self.qweight, self.scale, self.zero_point, dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode}"
