"""SFT pipeline on a tiny random Llama (hidden 32, 2 layers, word-level vocab of ~80): the loss
falls, the adapter reloads in peft with the same logits, an interrupted run resumes to the
same weights, provenance is complete, and the CLI is derived from the config.

`tiny_base` is shared with the DPO tests.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
import torch

from finetune.lora import LoRAConfigError
from finetune.sft import (
    OutputExistsError, ResumeError, SFTConfig, TrainingConfigError, batch_indices, forward_on_targets, lr_factor,
    train_sft,
)
from finetune.data import TrainingDataError
from test_ft_data import chat, tiny_tokenizer

EXAMPLES = [
    chat(("user", "what is night train about?"), ("assistant", "a film [1].")),
    chat(("user", "what is salt roads about?"), ("assistant", "a podcast [1].")),
    chat(("user", "when did night train come out?"), ("assistant", "in 2003 [1].")),
    chat(("user", "when did salt roads come out?"), ("assistant", "in 2020 [1].")),
]


def tiny_base(root: Path) -> Path:
    """A randomly initialised 2-layer Llama saved with the tiny tokenizer: a trainable folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=128,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None,
                         initializer_range=0.2)
    LlamaForCausalLM(config).save_pretrained(root)
    tok.save_pretrained(root)
    return root


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def setup(tmp_path: Path):
    base = tiny_base(tmp_path / "base")
    data = write_jsonl(tmp_path / "sft.jsonl", [{"messages": m, "source": "test"} for m in EXAMPLES])

    def config(**overrides) -> SFTConfig:
        settings = dict(base=str(base), data=(str(data),), out=str(tmp_path / "out"), steps=6, lr=2e-2, rank=4,
                        alpha=8.0, batch_size=2, max_len=64, schedule="constant", checkpoint_every=2, seed=0)
        return SFTConfig(**{**settings, **overrides})

    return config


def test_loss_decreases_and_the_artifacts_are_written(setup):
    result = train_sft(setup(steps=8), progress=False)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 8 and losses[-1] < 0.7 * losses[0]
    out = result.out
    for name in ("adapter_config.json", "adapter_model.safetensors", "loss.csv", "loss.png", "provenance.json"):
        assert (out / name).is_file(), name
    with open(out / "loss.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    assert float(rows[-1]["loss"]) == pytest.approx(losses[-1])
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000006", "step-000008"]  # keep 2


def test_provenance_names_base_data_config_commit_seed_and_time(setup):
    result = train_sft(setup(steps=2), progress=False)
    record = json.loads((result.out / "provenance.json").read_text())
    assert record["kind"] == "sft-adapter"
    assert record["base"]["model_id"] == "base" and len(record["base"]["sha256"]) == 64
    assert len(record["data"]["sha256"]) == 64 and record["data"]["used"] == len(EXAMPLES)
    assert record["config"]["rank"] == 4 and record["config"]["target_modules"][0] == "q_proj"
    assert record["seed"] == 0 and record["git_commit"] and record["time"]
    assert len(record["chat_template_sha256"]) == 64 and record["training"]["steps"] == 2
    assert record["training_versions"]["peft"]


def test_saved_adapter_reloads_with_peft_and_reproduces_the_logits(setup):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = setup(steps=4)
    result = train_sft(cfg, progress=False)
    ids = torch.tensor([[2, 5, 6, 7]])
    trained = result.model.eval()
    base = AutoModelForCausalLM.from_pretrained(cfg.base)
    with torch.no_grad():
        expected = trained(input_ids=ids).logits
        plain = base(input_ids=ids).logits
        reloaded = PeftModel.from_pretrained(base, result.out).eval()(input_ids=ids).logits
    assert torch.allclose(reloaded, expected, atol=1e-6)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter did change the model


def test_resume_after_a_crash_ends_with_the_same_weights(setup, tmp_path: Path):
    from safetensors.torch import load_file

    straight = train_sft(setup(out=str(tmp_path / "straight")), progress=False)

    class Crash(RuntimeError):
        pass

    def crash_at_5(step: int, row: dict) -> None:
        if step == 5:
            raise Crash("simulated power cut")

    interrupted = setup(out=str(tmp_path / "resumed"))
    with pytest.raises(Crash):
        train_sft(interrupted, progress=False, on_step=crash_at_5)   # checkpoints at 2 and 4; step 5 is lost
    with pytest.raises(OutputExistsError, match="--resume"):
        train_sft(interrupted, progress=False)
    with pytest.raises(ResumeError, match="lr=0.02"):
        train_sft(setup(out=str(tmp_path / "resumed"), resume=True, lr=1e-3), progress=False)
    resumed = train_sft(setup(out=str(tmp_path / "resumed"), resume=True), progress=False)
    assert resumed.resumed_from == 4
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    a = load_file(straight.out / "adapter_model.safetensors")
    b = load_file(resumed.out / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_changed_data_refuses_to_resume(setup):
    cfg = setup(steps=2)
    train_sft(cfg, progress=False)
    write_jsonl(Path(cfg.data[0]), [{"messages": m} for m in EXAMPLES[:2]])
    with pytest.raises(ResumeError, match="data changed"):
        train_sft(setup(steps=2, resume=True), progress=False)


def test_bf16_keeps_the_adapter_in_float32(setup):
    result = train_sft(setup(steps=2, bf16=True), progress=False)
    lora = [p for n, p in result.model.named_parameters() if "lora_" in n]
    base = [p for n, p in result.model.named_parameters() if "lora_" not in n]
    assert lora and all(p.dtype == torch.float32 for p in lora)
    assert all(p.dtype == torch.bfloat16 for p in base)
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in result.history)


def test_too_long_examples_are_dropped_and_counted(setup, tmp_path: Path):
    long = chat(("user", " ".join(["what"] * 60)), ("assistant", "a film."))
    data = write_jsonl(tmp_path / "mixed.jsonl", [{"messages": m} for m in [*EXAMPLES, long]])
    result = train_sft(setup(steps=1, data=(str(data),)), progress=False)
    assert result.provenance["data"]["dropped_longer_than_max_len"] == 1
    with pytest.raises(TrainingDataError, match="raise --max-len to at least"):
        train_sft(setup(steps=1, max_len=8, out=str(tmp_path / "o2")), progress=False)


@pytest.mark.parametrize("bad, match", [
    ({"steps": 0}, "steps=0"), ({"lr": -1.0}, "lr=-1.0"), ({"warmup_steps": 6}, "warmup_steps=6"),
    ({"schedule": "cosine"}, "schedule='cosine'"), ({"data": ()}, "data=()"),
])
def test_invalid_settings_name_the_value(setup, bad, match):
    with pytest.raises(TrainingConfigError, match=match):
        setup(**bad)


def test_lora_settings_are_checked_by_the_lora_config(setup):
    with pytest.raises(LoRAConfigError, match="rank r"):
        setup(rank=0)


def test_logits_on_target_positions_only_give_the_full_loss(setup):
    from transformers import AutoModelForCausalLM

    from finetune.data import encode_sft, pad_batch, parse_sft
    from finetune.losses import sft_loss

    cfg = setup()
    tok = tiny_tokenizer()
    rows = [encode_sft(tok, parse_sft({"messages": m})) for m in (EXAMPLES[0], EXAMPLES[2])]
    batch = pad_batch(rows, tok.pad_token_id)          # rows of different lengths: right padding in row 0
    model = AutoModelForCausalLM.from_pretrained(cfg.base).eval()
    with torch.no_grad():
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits, labels = forward_on_targets(model, batch)
    assert logits.shape[1] < full.shape[1] and labels.shape == logits.shape[:2]
    expected = sft_loss(full, batch["labels"], batch["labels"] != -100)
    assert sft_loss(logits, labels, labels != -100).item() == pytest.approx(expected.item(), abs=1e-6)


def test_batches_and_schedule_are_pure_functions_of_seed_and_step():
    first_epoch = [i for step in range(2) for i in batch_indices(7, step, 2, 4)]
    assert sorted(first_epoch) == [0, 1, 2, 3]                     # each item once per epoch
    assert batch_indices(7, 5, 2, 4) == batch_indices(7, 5, 2, 4) != batch_indices(8, 5, 2, 4)
    cfg = SFTConfig(base="b", data=("d",), out="o", steps=10, warmup_steps=2)
    assert [round(lr_factor(s, cfg), 3) for s in (0, 1, 2, 9)] == [0.5, 1.0, 1.0, 0.125]


def test_cli_flags_are_derived_from_the_config(setup, capsys):
    from finetune.pipeline_cli import register

    parser = argparse.ArgumentParser(prog="cairn")
    register(parser.add_subparsers(dest="command"))
    cfg = setup()
    args = parser.parse_args(["sft", "--base", cfg.base, "--data", *cfg.data, "--out", cfg.out, "--steps", "2",
                              "--lr", "0.01", "--rank", "4", "--alpha", "8", "--batch-size", "2", "--max-len", "64",
                              "--seed", "3", "--bf16", "-q"])
    settings = (args.steps, args.rank, args.batch_size, args.bf16, args.resume, args.schedule)
    assert settings == (2, 4, 2, True, False, "linear")
    assert args.func(args) == 0
    assert "sft: 2 steps" in capsys.readouterr().err
    dpo_args = parser.parse_args(["dpo", "--base", "b", "--data", "d", "--out", "o"])
    assert dpo_args.beta == 0.1 and dpo_args.lr == 5e-5
    with pytest.raises(SystemExit):
        parser.parse_args(["sft", "--data", "d", "--out", "o"])   # --base is required
