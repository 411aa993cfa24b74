"""NF4 and INT8 quantization: hand-worked blocks, the NF4 table against bitsandbytes and
against its normal-quantile derivation, bit-level parity with bitsandbytes' CPU
quantize_4bit/dequantize_4bit, INT8 against bitsandbytes and torch.ao, and QuantLinear."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from finetune.quant_int8 import (
    Int8Config, Int8Linear, QuantizationError, absmax_dequantize, absmax_quantize, zeropoint_dequantize,
    zeropoint_quantize,
)
from finetune.quant_nf4 import (
    DYNAMIC_8BIT, NF4, NF4_CODE, NF4Config, NF4Linear, NF4Weight, dequantize_nf4, double_quantize,
    normal_float_code, pack_nibbles, quantize_nf4, unpack_nibbles,
)

bnbF = pytest.importorskip("bitsandbytes.functional")


# -- NF4: the code table ---------------------------------------------------------------------

def test_nf4_code_pinned_equals_bitsandbytes_and_the_derivation():
    assert len(NF4_CODE) == 16 and NF4_CODE[0] == -1.0 and NF4_CODE[7] == 0.0 and NF4_CODE[15] == 1.0
    assert torch.equal(NF4, bnbF.get_4bit_type("nf4", device="cpu"))
    # Φ⁻¹ quantiles re-derived in float64 agree with the published table to float32 rounding.
    assert torch.allclose(normal_float_code(), NF4, atol=2e-7, rtol=0)


def test_dynamic_8bit_code_hand_checks_and_bitsandbytes():
    # 256 levels: 0, 1, and for e = 0..6 the 2^e bin centres of linspace(0.1, 1) × 10^(e−6), ±
    assert DYNAMIC_8BIT.numel() == 256 and DYNAMIC_8BIT.unique().numel() == 256
    # smallest positive: e=0 has one bin [0.1, 1] → centre 0.55 × 10⁻⁶
    assert DYNAMIC_8BIT[DYNAMIC_8BIT > 0].min().item() == pytest.approx(5.5e-7, rel=1e-6)
    # largest below 1: e=6, 64 bins of width 0.9/64 → last centre 1 − 0.45/64 = 0.99296875
    assert DYNAMIC_8BIT[-2].item() == pytest.approx(0.99296875, abs=1e-7)
    assert torch.equal(DYNAMIC_8BIT, bnbF.create_dynamic_map())


# -- NF4: hand-worked blocks -------------------------------------------------------------------

def test_nf4_two_blocks_of_four_by_hand():
    # block 0: absmax 1 → scaled [0.5, −1, 0.1, 0]
    #   0.5: between 0.44071 (#12) and 0.56262 (#13), midpoint 0.50166 → #12 → 0.44071
    #   −1 → #0;  0.1: between 0.07958 (#8) and 0.16093 (#9), midpoint 0.12026 → #8;  0 → #7
    # block 1: absmax 2 → scaled [1, −0.25, 0.5, 0.125]
    #   1 → #15;  −0.25: between −0.28444 (#4) and −0.18477 (#5), midpoint −0.23461 → #4
    #   0.5 → #12;  0.125 > 0.12026 → #9
    w = torch.tensor([[0.5, -1.0, 0.1, 0.0], [2.0, -0.5, 1.0, 0.25]])
    q = quantize_nf4(w, NF4Config(block_size=4, double_quant=False))
    assert torch.equal(q.absmax, torch.tensor([1.0, 2.0]))
    assert unpack_nibbles(q.packed, 8).tolist() == [12, 0, 8, 7, 15, 4, 12, 9]
    # packed bytes: (12<<4)|0 = 192, (8<<4)|7 = 135, (15<<4)|4 = 244, (12<<4)|9 = 201
    assert q.packed.tolist() == [192, 135, 244, 201]
    expected = torch.tensor([[0.44070983, -1.0, 0.07958030, 0.0],
                             [2.0, -0.56888276, 0.88141966, 0.32186041]])
    assert torch.allclose(dequantize_nf4(q), expected, atol=1e-7, rtol=0)


def test_double_quantization_by_hand():
    # absmax = [1, 2, 3, 6] → offset = mean = 3 → centred [−2, −1, 0, 3] → absmax2 = 3
    # scaled [−2/3, −1/3, 0, 1]; the 8-bit levels near 2/3 are 0.1 + (0.9/64)(j + ½):
    #   j=40 → 0.66953125 (|Δ| = 0.0029) beats j=39 → 0.65546875; near 1/3: j=16 → 0.33203125
    # recovered: −0.66953125·3 + 3 = 0.99140625,  −0.33203125·3 + 3 = 2.00390625,  3,  6
    idx, absmax2, offset = double_quantize(torch.tensor([1.0, 2.0, 3.0, 6.0]), dq_block_size=4)
    assert offset.item() == 3.0 and absmax2.tolist() == [3.0]
    assert DYNAMIC_8BIT[idx.long()].tolist() == pytest.approx([-0.66953125, -0.33203125, 0.0, 1.0], abs=1e-7)
    recovered = DYNAMIC_8BIT[idx.long()] * absmax2 + offset
    assert recovered.tolist() == pytest.approx([0.99140625, 2.00390625, 3.0, 6.0], abs=1e-6)


def test_pack_unpack_odd_length():
    codes = torch.tensor([1, 2, 3], dtype=torch.uint8)
    packed = pack_nibbles(codes)
    assert packed.tolist() == [0x12, 0x37]        # odd tail padded with the zero code 7
    assert unpack_nibbles(packed, 3).tolist() == [1, 2, 3]


def test_all_zero_block_stays_zero():
    q = quantize_nf4(torch.zeros(2, 4), NF4Config(block_size=4, double_quant=False))
    assert torch.equal(dequantize_nf4(q), torch.zeros(2, 4))


def test_bad_inputs_raise():
    with pytest.raises(QuantizationError, match="block_size must be an even"):
        NF4Config(block_size=63)
    with pytest.raises(QuantizationError, match="NaN"):
        quantize_nf4(torch.tensor([1.0, float("nan")]))


# -- NF4: parity with bitsandbytes on CPU ----------------------------------------------------------------
# bitsandbytes 0.50.2 runs quantize_4bit / dequantize_4bit on CPU (its "default" torch kernel
# quantizes; the compiled CPU library dequantizes), so codes can be compared directly.

@pytest.mark.parametrize("seed, scale", [(0, 0.02), (1, 1.0)])
def test_nf4_matches_bitsandbytes_without_double_quant(seed, scale):
    torch.manual_seed(seed)
    w = torch.randn(96, 128) * scale
    packed, state = bnbF.quantize_4bit(w, blocksize=64, compress_statistics=False, quant_type="nf4")
    ours = quantize_nf4(w, NF4Config(block_size=64, double_quant=False))
    assert torch.equal(ours.packed, packed.reshape(-1))
    assert torch.equal(ours.absmax, state.absmax)
    assert torch.equal(dequantize_nf4(ours), bnbF.dequantize_4bit(packed, state))
    # round-trip error ≤ half the widest NF4 gap, (−0.6962 − (−1))/2 = 0.1519, times the block absmax
    err = (dequantize_nf4(ours) - w).abs().reshape(-1, 64).amax(1)
    assert torch.all(err <= 0.1520 * ours.absmax)
    assert torch.any(err > 0.05 * ours.absmax)                  # and it is a real, lossy round trip


def test_nf4_double_quant_matches_bitsandbytes():
    torch.manual_seed(0)
    w = torch.randn(256, 512) * 0.02                 # 2048 blocks → 8 second-level blocks
    packed, state = bnbF.quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
    ours = quantize_nf4(w, NF4Config())
    assert torch.equal(ours.packed, packed.reshape(-1))             # every 4-bit code
    assert torch.equal(ours.offset, state.offset)
    assert torch.equal(ours.absmax2, state.state2.absmax)
    # 8-bit absmax indices: bnb's CPU kernel uses an approximate nearest search whose decision
    # points sit up to ~2e-5 off the true midpoint; we take the exact nearest. They may differ
    # only at such near-ties, and only by one step.
    ours_q, theirs_q = ours.absmax_q.long(), state.absmax.long()
    differ = (ours_q != theirs_q).nonzero().flatten()
    assert len(differ) <= 0.005 * len(ours_q)
    centred = quantize_nf4(w, NF4Config(double_quant=False)).absmax - ours.offset
    for i in differ.tolist():
        assert abs(ours_q[i] - theirs_q[i]) == 1
        x = (centred[i] / ours.absmax2[i // 256]).item()
        midpoint = (DYNAMIC_8BIT[ours_q[i]] + DYNAMIC_8BIT[theirs_q[i]]).item() / 2
        assert abs(x - midpoint) < 5e-5
        assert abs(x - DYNAMIC_8BIT[ours_q[i]]) <= abs(x - DYNAMIC_8BIT[theirs_q[i]])   # ours is the nearer
    # Given bnb's own codes, our dequantization is bit-identical to bnb's.
    theirs_as_ours = NF4Weight(packed=packed.reshape(-1), shape=tuple(w.shape), config=NF4Config(),
                               absmax_q=state.absmax, absmax2=state.state2.absmax, offset=state.offset)
    assert torch.equal(dequantize_nf4(theirs_as_ours), bnbF.dequantize_4bit(packed, state))
    # Dequantized weights: identical in blocks whose scale code agrees; elsewhere apart by at
    # most one 8-bit step (≤ 0.9/64 near ±1) of the second-level scale.
    diff = (dequantize_nf4(ours) - dequantize_nf4(theirs_as_ours)).abs().reshape(-1, 64)    # (blocks, 64)
    same = ours_q == theirs_q
    assert torch.all(diff[same] == 0)
    step = 0.9 / 64 * ours.absmax2[differ // 256]
    assert torch.all(diff[differ].amax(1) <= step * (1 + 1e-4))      # fp32 rounding slack


# -- INT8 ------------------------------------------------------------------------------------------

def test_absmax_int8_by_hand():
    # row [0.5, −1, 0.25, 0]: absmax 1 → 127·w = [63.5, −127, 31.75, 0]
    #   round half to even: 63.5 → 64;  31.75 → 32  → dequant q/127 = [0.503937, −1, 0.251969, 0]
    q, absmax = absmax_quantize(torch.tensor([[0.5, -1.0, 0.25, 0.0]]))
    assert q.tolist() == [[64, -127, 32, 0]] and q.dtype == torch.int8
    assert absmax.tolist() == [1.0]
    assert absmax_dequantize(q, absmax).tolist()[0] == pytest.approx([64 / 127, -1.0, 32 / 127, 0.0], abs=1e-7)


def test_zeropoint_int8_by_hand():
    # row [−1, 0, 0.25, 2]: lo −1, hi 2 → s = 3/255 = 0.0117647, z = round(1/s) = 85
    #   w/s = [−85, 0, 21.25, 170] → round + 85 = [0, 85, 106, 255]
    #   dequant (q − 85)·s = [−1, 0, 21·3/255 = 0.247059, 2]
    q, scale, zp = zeropoint_quantize(torch.tensor([[-1.0, 0.0, 0.25, 2.0]]))
    assert q.tolist() == [[0, 85, 106, 255]] and q.dtype == torch.uint8
    assert zp.tolist() == [85] and scale.item() == pytest.approx(3 / 255, rel=1e-6)
    assert zeropoint_dequantize(q, scale, zp).tolist()[0] == pytest.approx([-1.0, 0.0, 63 / 255, 2.0], abs=1e-6)


def test_zeropoint_positive_row_keeps_zero_exact():
    # all-positive row [0.5, 2]: the range is widened to [0, 2] so that 0 stays representable;
    # s = 2/255, z = 0, 0.5/s = 63.75 → codes [64, 255]; an exact 0 would map to code 0 → 0.0
    q, scale, zp = zeropoint_quantize(torch.tensor([[0.5, 2.0]]))
    assert zp.tolist() == [0] and q.tolist() == [[64, 255]]
    assert zeropoint_dequantize(q, scale, zp).tolist()[0] == pytest.approx([128 / 255, 2.0], abs=1e-6)


# torch.ao's quantized tensors are deprecated (still present in torch 2.13); they serve only as a reference.
@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor:UserWarning")
def test_int8_matches_bitsandbytes_and_torch_ao():
    torch.manual_seed(0)
    w = torch.randn(16, 40)
    q, absmax = absmax_quantize(w)
    q_bnb, stats, _ = bnbF.int8_vectorwise_quant(w)          # LLM.int8() row-wise absmax
    assert torch.equal(q, q_bnb) and torch.allclose(absmax, stats)
    assert torch.allclose(absmax_dequantize(q, absmax), bnbF.int8_vectorwise_dequant(q_bnb, stats), atol=1e-6)

    from torch.ao.quantization.observer import PerChannelMinMaxObserver

    observer = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.quint8, qscheme=torch.per_channel_affine)
    observer(w)
    scale_ao, zp_ao = observer.calculate_qparams()
    q8, scale, zp = zeropoint_quantize(w)
    assert torch.allclose(scale, scale_ao, rtol=1e-6, atol=0) and torch.equal(zp, zp_ao.to(torch.int32))
    q_ao = torch.quantize_per_channel(w, scale, zp, axis=0, dtype=torch.quint8)
    assert torch.equal(q8, q_ao.int_repr())
    assert torch.allclose(zeropoint_dequantize(q8, scale, zp), q_ao.dequantize(), atol=1e-6, rtol=0)


# -- QuantLinear ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, tol", [
    (lambda lin: Int8Linear.from_linear(lin, Int8Config("absmax")), 0.02),
    (lambda lin: Int8Linear.from_linear(lin, Int8Config("zeropoint")), 0.02),
    (lambda lin: NF4Linear.from_linear(lin, NF4Config()), 0.25),
])
def test_quant_linear_forward(make, tol):
    torch.manual_seed(0)
    dense = nn.Linear(128, 32)
    layer = make(dense)
    x = torch.randn(4, 128)
    y = layer(x)
    w_hat = layer.dequantize_weight()
    assert torch.allclose(y, x @ w_hat.T + dense.bias, atol=1e-5)               # dequantize-on-the-fly
    rel = (y - dense(x)).norm() / dense(x).norm()
    assert 0 < rel < tol                                                        # lossy, but close
    assert not list(layer.parameters())                                         # frozen: buffers only
    assert torch.equal(layer.to_linear().weight, w_hat)


def test_nf4_linear_matches_bitsandbytes_linear4bit():
    import bitsandbytes as bnb

    torch.manual_seed(0)
    dense = nn.Linear(128, 64, bias=False)
    ref = bnb.nn.Linear4bit(128, 64, bias=False, compute_dtype=torch.float32, quant_type="nf4",
                            compress_statistics=False)
    ref.load_state_dict(dense.state_dict())
    ref = ref.to("cpu")                                      # quantizes
    ref.support_avx512bf16_for_cpu = False                   # keep the fp32 reference path
    ours = NF4Linear.from_linear(dense, NF4Config(double_quant=False))
    x = torch.randn(3, 128)
    with torch.no_grad():
        assert torch.allclose(ours(x), ref(x), atol=1e-5, rtol=0)


def test_int8_config_rejects_unknown_mode():
    with pytest.raises(QuantizationError, match="'minmax'"):
        Int8Config("minmax")


def test_quant_linear_backward_keeps_codes_not_a_dense_weight():
    torch.manual_seed(0)
    layer = NF4Linear.from_linear(nn.Linear(256, 128), NF4Config())
    w_hat = layer.dequantize_weight()
    x = torch.randn(3, 256, requires_grad=True)
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        y = layer(x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.ones(3, 128) @ w_hat, atol=1e-5)    # ∂/∂x of Σ x Ŵᵀ = 1 Ŵ
    assert not any(t.numel() == w_hat.numel() for t in saved)                # no dense Ŵ (or Ŵᵀ) kept
