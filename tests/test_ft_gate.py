"""The release gate: its pure checks on hand-worked numbers, then whole runs on a tiny Llama
that came from a GGUF (byte-level BPE + ChatML, so the template round trip is real): a
zero-init adapter passes and is registered and servable by name, a broken adapter (B set to
large random values) is rejected and not registered, and a GGUF Q8_0 build passes through
llama.cpp and routes to the llama.cpp backend."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from finetune.gate import (
    Check, GateConfig, GateConfigError, eos_rate, format_table, kl_per_position, perplexity, template_problems,
    verdict,
)
from test_ft_merge import gguf_base, make_adapter


# -- pure checks ----------------------------------------------------------------------------------------

def test_kl_by_hand():
    p = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))                 # logits = log-probs (softmax-invariant)
    q = np.log(np.array([[0.25, 0.75], [0.9, 0.1]]))
    kl = kl_per_position(p + 3.0, q - 1.0)                         # shifts do not change a distribution
    # 0.5·ln(0.5/0.25) + 0.5·ln(0.5/0.75) = 0.5·0.693147 − 0.5·0.405465 = 0.143841
    assert kl[0] == pytest.approx(0.143841, abs=1e-6) and kl[1] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(GateConfigError, match="another vocabulary"):
        kl_per_position(np.zeros((2, 3)), np.zeros((2, 4)))


def test_perplexity_by_hand():
    uniform = np.zeros((4, 10))                                    # every next token has p = 1/10
    assert perplexity([uniform], [[1, 2, 3, 4]]) == pytest.approx(10.0)
    sure = np.full((3, 5), -30.0)
    sure[0, 2], sure[1, 4] = 30.0, 30.0                            # predicts 2 then 4 with p ≈ 1
    assert perplexity([sure], [[0, 2, 4]]) == pytest.approx(1.0, abs=1e-9)
    # mean NLL pools tokens across sequences: (3·ln 10 + 2·0) / 5
    assert perplexity([uniform, sure], [[1, 2, 3, 4], [0, 2, 4]]) == pytest.approx(math.exp(3 * math.log(10) / 5))


def test_eos_rate_and_verdict():
    assert eos_rate([[5, 2], [5, 6], [2]], {2}) == pytest.approx(2 / 3)
    assert eos_rate([], {2}) == 0.0
    rows = [Check("a", "1", "≤ 2", True), Check("b", "n/a", "-", None)]
    assert verdict(rows) and not verdict([*rows, Check("c", "9", "≤ 2", False, "too far")])
    table = format_table([*rows, Check("c", "9", "≤ 2", False, "too far")])
    assert "FAIL" in table and "n/a" in table and "c: too far" in table and table.endswith("verdict: FAIL")


def test_template_problems_on_a_tokenizer_that_does_not_round_trip():
    from test_ft_data import tiny_tokenizer

    tok = tiny_tokenizer()                  # word-level: unknown words become <unk>, spacing is lost
    problems = template_problems(tok)
    assert any("decode(encode(rendered))" in p for p in problems)
    tok.chat_template = None
    assert template_problems(tok) == ["the tokenizer has no chat template"]


def test_gate_config_is_validated():
    with pytest.raises(GateConfigError, match="max_mean_kl=0"):
        GateConfig(candidate="x", max_mean_kl=0)
    with pytest.raises(GateConfigError, match="min_eos_rate=1.5"):
        GateConfig(candidate="x", min_eos_rate=1.5)
    with pytest.raises(GateConfigError, match="quant_max_ppl_ratio=0.9 must be >= 1"):
        GateConfig(candidate="x", quant_max_ppl_ratio=0.9)
    assert GateConfig(candidate="x").limits("quantized") == (0.1, 5.0, 1.1)


# -- whole runs -----------------------------------------------------------------------------------------

@pytest.fixture
def base(tmp_path: Path) -> Path:
    return gguf_base(tmp_path / "gguf")


def gate(candidate: Path, **settings):
    from finetune.gate_run import run_gate

    return run_gate(GateConfig(candidate=str(candidate), threads=1, **settings))


def by_name(report) -> dict[str, Check]:
    return {c.name: c for c in report.checks}


def test_zero_init_adapter_passes_is_registered_and_served_by_name(base: Path, tmp_path: Path, cairn_home: Path):
    from assistant.llm.config import LLMConfig, load_llm, route_registered_build
    from knowledge.models import list_models, resolve_model
    from knowledge.models_registry import get_entry

    adapter = make_adapter(base, tmp_path / "zero-adapter", scale=0.0)
    report = gate(adapter, name="tiny-zero")
    checks = by_name(report)
    assert report.passed, report.table()
    assert checks["kl"].numbers["mean_kl"] == pytest.approx(0.0, abs=1e-9)
    assert checks["perplexity"].numbers["ratio"] == pytest.approx(1.0, abs=1e-9)
    assert checks["parity"].passed and checks["template"].passed

    entry = get_entry("tiny-zero")
    assert entry is not None and entry.role == "answer" and entry.format == "peft-adapter" and entry.is_present()
    assert entry.abspath == cairn_home / "models" / "tiny-zero"
    assert json.loads((entry.abspath / "gate.json").read_text())["passed"] is True
    assert entry.extra["build"]["provenance"]["kind"] == "sft-adapter"
    assert resolve_model("tiny-zero") == entry.abspath
    assert any(row.name == "tiny-zero" and row.provisioned for row in list_models())

    routed = route_registered_build(LLMConfig(model="tiny-zero"))
    assert (routed.backend, Path(routed.model), Path(routed.adapter)) == ("hf", base, entry.abspath)
    llm = load_llm(LLMConfig(model="tiny-zero", n_ctx=256, max_tokens=3, n_threads=1, dtype="float32"))
    try:
        assert llm.backend == "hf" and "+adapter:" in llm.fingerprint
        assert llm.chat([{"role": "user", "content": "hi"}]).completion_tokens <= 3
    finally:
        llm.close()


def test_broken_adapter_is_rejected_and_not_registered(base: Path, tmp_path: Path):
    from knowledge.models_registry import get_entry

    adapter = make_adapter(base, tmp_path / "broken", scale=3.0)     # B ~ N(0, 3²): a diverged run
    report = gate(adapter, name="tiny-broken")
    checks = by_name(report)
    assert not report.passed and checks["kl"].passed is False
    assert checks["kl"].numbers["mean_kl"] > 5.0
    assert report.registered is None and get_entry("tiny-broken") is None


def test_merged_folder_passes_with_parity_against_its_adapter(base: Path, tmp_path: Path):
    from finetune.merge import MergeRunConfig, merge_adapters

    adapter = make_adapter(base, tmp_path / "small", scale=0.002)
    merged = merge_adapters(MergeRunConfig(adapters=(str(adapter),), out=str(tmp_path / "merged"))).out
    report = gate(merged, no_register=True)
    checks = by_name(report)
    assert report.build.kind == "merged" and report.reference == base
    assert checks["parity"].passed is True and checks["parity"].numbers["max_abs_diff"] < 1e-3
    assert report.passed, report.table()


def test_gguf_q8_build_passes_through_llama_cpp_and_routes_there(base: Path, tmp_path: Path):
    from assistant.llm.config import LLMConfig, route_registered_build
    from finetune.quantize import QuantizeConfig, quantize
    from knowledge.models_registry import get_entry

    build = quantize(QuantizeConfig(model=str(base), format="gguf-q8_0", out=str(tmp_path / "tiny-q8")))
    report = gate(build.out, name="tiny-q8")
    checks = by_name(report)
    assert report.build.kind == "gguf" and report.build.family == "quantized"
    assert report.passed, report.table()
    assert checks["kl"].numbers["mean_kl"] < 0.05 and checks["template"].passed
    entry = get_entry("tiny-q8")
    assert entry.format == "gguf" and entry.quantization == "q8_0" and entry.abspath.suffix == ".gguf"
    assert route_registered_build(LLMConfig(model="tiny-q8")).backend == "llamacpp"
    assert route_registered_build(LLMConfig(model="tiny-q8", backend="hf")).backend == "hf"


def test_cli_prints_the_table_and_exits_1_on_fail(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    from finetune import build_cli

    parser = argparse.ArgumentParser(prog="cairn")
    build_cli.register(parser.add_subparsers(dest="command"))
    adapter = make_adapter(base, tmp_path / "broken", scale=3.0)
    args = parser.parse_args(["gate", str(adapter), "--threads", "1", "--eos-within", "8", "--heldout-docs", "1"])
    assert args.func(args) == 1
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out and "kl" in out
    with pytest.raises(SystemExit):
        parser.parse_args(["gate"])                                 # CANDIDATE is required


def test_golden_scores_from_the_evals_harness_gate_the_drop(base: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    """The harness itself is tested in test_eval_runner.py; here a scripted run_eval checks
    that each side is evaluated on its own model and the drop is judged."""
    from types import SimpleNamespace

    import evals.runner

    seen = []

    def fake_run_eval(paths, config, out_dir, progress=True):
        seen.append(config)
        score = 0.5 if config.llm.adapter else 0.8                   # the candidate answers worse
        return SimpleNamespace(summary={"metrics": {"rougeL_f": {"mean": score}, "refused": {"mean": 0.9}}})

    monkeypatch.setattr(evals.runner, "run_eval", fake_run_eval)
    adapter = make_adapter(base, tmp_path / "zero", scale=0.0)
    golden = tmp_path / "golden.jsonl"
    golden.write_text("")
    row = by_name(gate(adapter, golden=str(golden), golden_limit=3, no_register=True))["golden"]
    assert row.passed is False and row.numbers["max_drop"] == pytest.approx(0.3)   # `refused` is not a score
    candidate, reference = seen[0], seen[1]
    assert (candidate.llm.backend, Path(candidate.llm.model), Path(candidate.llm.adapter)) == ("hf", base, adapter)
    assert reference.llm.adapter is None and candidate.limit == 3 and candidate.judge == "off"
    assert gate(adapter, golden=str(golden), max_golden_drop=0.35, no_register=True).passed


def test_int8_build_is_gated_against_its_dense_source_and_served_by_backend_hf(base: Path, tmp_path: Path):
    from assistant.llm.config import LLMConfig, load_llm
    from finetune.quant_int8 import Int8Linear
    from finetune.quantize import QuantizeConfig, quantize

    build = quantize(QuantizeConfig(model=str(base), format="int8", out=str(tmp_path / "tiny-int8")))
    report = gate(build.out)
    assert report.build.kind == "quantized" and report.reference == base
    assert report.passed, report.table()
    assert by_name(report)["kl"].limit == "≤ 0.1, ≤ 5"                # the quantized family's limits
    llm = load_llm(LLMConfig(model="tiny-int8", n_ctx=256, max_tokens=2, n_threads=1, dtype="float32"))
    try:
        assert llm.backend == "hf"                                     # routed: llama.cpp cannot open it
        assert isinstance(llm.model.get_submodule("model.layers.0.mlp.up_proj"), Int8Linear)
    finally:
        llm.close()
