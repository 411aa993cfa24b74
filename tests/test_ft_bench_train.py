"""finetune.bench_train on a tiny random Llama (hidden 64, 2 layers, vocab 256): each method's
worker record has the right shape and parameter counts, the isolated subprocess path returns
the same record, and the table/ratio helpers work on hand-made records. Times are never
asserted (they swing 10× with machine load, DESIGN.md §6); only that they were measured.
"""
from __future__ import annotations

import pytest
import torch

from finetune.bench_train import (
    BenchConfigError,
    WorkerSpec,
    add_ratios,
    combine,
    markdown,
    round_order,
    run_isolated,
    train_worker,
)

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "vocab_size": 256, "max_position_embeddings": 64}
# LoRA r=4 on q,k,v,o,gate,up,down of one block: head_dim 16, so k/v project 64 → 32.
#   q, o: 4·(64+64) = 512 each; k, v: 4·(64+32) = 384 each; gate, up, down: 4·(64+128) = 768 each
#   → 512·2 + 384·2 + 768·3 = 4096 per block, 8192 for two blocks.
LORA_R4_PARAMS = 8192


def tiny_llama(spec: WorkerSpec):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**TINY))


def spec(method: str, **kw) -> WorkerSpec:
    return WorkerSpec(model="(in memory)", method=method, steps=2, warmup=1, seq_len=16, batch=2, rank=4,
                      alpha=8.0, lr=1e-3, threads=1, **kw)


@pytest.mark.parametrize("bf16", [False, True])
def test_worker_records_of_the_three_methods(bf16):
    records = {m: train_worker(spec(m, bf16=bf16), load=tiny_llama) for m in ("full", "lora", "qlora")}
    total = sum(p.numel() for p in tiny_llama(spec("full")).parameters())
    for method, r in records.items():
        assert r["status"] == "ok" and r["method"] == method
        assert len(r["step_seconds"]) == 2 and all(t > 0 for t in r["step_seconds"])
        assert r["median_step_seconds"] > 0 and r["tokens_per_second"] > 0
        assert r["peak_rss_process_bytes"] > 0
        assert r["peak_rss_train_bytes"] is None or r["peak_rss_train_bytes"] > 0
        assert r["loss_first"] == r["loss_first"] and r["loss_last"] == r["loss_last"]  # not NaN
    assert records["full"]["params_trainable"] == total == records["full"]["params_total"]
    assert records["lora"]["params_trainable"] == records["qlora"]["params_trainable"] == LORA_R4_PARAMS
    assert records["lora"]["params_total"] == records["qlora"]["params_total"] == total  # the dense count
    # AdamW keeps two moments (+ a step counter) per trained tensor
    assert records["full"]["optimizer_state_bytes"] >= 2 * 4 * total
    assert records["full"]["grad_bytes"] == 4 * total            # float32 masters, also under bf16 autocast
    assert records["lora"]["grad_bytes"] == 4 * LORA_R4_PARAMS   # float32 adapters
    assert records["lora"]["optimizer_state_bytes"] >= 2 * 4 * LORA_R4_PARAMS
    # the NF4 base stores less than the dense one (the embedding stays dense in both)
    assert records["qlora"]["weight_bytes"] < records["lora"]["weight_bytes"]
    if bf16:
        assert records["full"]["dtype"] == "float32 masters, bf16 autocast"
        assert records["lora"]["dtype"].startswith("bfloat16 base")


def test_isolated_worker_runs_in_its_own_process(tmp_path):
    folder = tmp_path / "tiny"
    tiny_llama(spec("lora")).save_pretrained(folder)
    r = run_isolated(WorkerSpec(model=str(folder), method="lora", steps=1, warmup=0, seq_len=8, rank=4, threads=1),
                     timeout=300)
    assert r["status"] == "ok", r
    assert r["params_trainable"] == LORA_R4_PARAMS and len(r["step_seconds"]) == 1


def test_isolated_worker_reports_a_crash(tmp_path):
    r = run_isolated(WorkerSpec(model=str(tmp_path / "missing"), method="full", steps=1), timeout=300)
    assert r["status"] == "error" and r["error"].startswith("exit ")


def test_spec_rejects_bad_values():
    with pytest.raises(BenchConfigError, match="method='adapter'"):
        WorkerSpec(model="m", method="adapter")
    with pytest.raises(BenchConfigError, match="seq_len=1"):
        WorkerSpec(model="m", method="lora", seq_len=1)


def test_round_order_rotates():
    assert [round_order(i) for i in range(4)] == [["full", "lora", "qlora"], ["lora", "qlora", "full"],
                                                 ["qlora", "full", "lora"], ["full", "lora", "qlora"]]


def _rec(method, peak, steps, trainable, status="ok"):
    return {"model": "m", "method": method, "status": status, "peak_rss_train_bytes": peak,
            "peak_rss_process_bytes": peak, "rss_setup_bytes": peak // 2, "step_seconds": steps,
            "median_step_seconds": sorted(steps)[len(steps) // 2], "tokens_per_second": 100.0,
            "params_trainable": trainable, "trainable_pct": 1.0, "weight_bytes": 2**20, "grad_bytes": 0,
            "optimizer_state_bytes": 2**20}


def test_combine_and_ratios_and_table():
    full = combine([_rec("full", 400 * 2**20, [2.0, 4.0, 3.0], 1000), _rec("full", 500 * 2**20, [3.0], 1000)])
    assert full["median_step_seconds"] == 3.0 and full["peak_rss_train_bytes"] == 500 * 2**20 and full["rounds"] == 2
    lora = combine([_rec("lora", 100 * 2**20, [1.5], 10)])
    oom = {"model": "m", "method": "qlora", "status": "oom", "error": "killed", "params_trainable": None,
           "median_step_seconds": None}
    rows = [full, lora, combine([oom])]
    add_ratios(rows)
    assert lora["peak_rss_vs_full"] == 0.2 and lora["step_time_vs_full"] == 0.5 and lora["trainable_vs_full"] == 0.01
    assert rows[2]["peak_rss_vs_full"] is None
    table = markdown(rows, {"date": "2026-11-22", "machine": "2 CPU cores", "batch": 1, "seq_len": 256, "bf16": True,
                            "steps": 3, "warmup": 1, "repeats": 1, "threads": 2})
    assert "| m | lora | 10 (1.00%) | 2 | 100 | 0.20 | 1.50 | 0.50 | 100 |" in table
    assert "| m | qlora | — | oom: killed |" in table
