"""`python -m finetune.bench_builds [--model smollm2-135m]`: size and held-out perplexity of one
model's builds — fp32, bf16, INT8, NF4, GGUF Q8_0 / Q4_0 / Q4_K_M (and the packaged source GGUF) —
on the same text, with each build's mean KL to the fp32 model. The README's quantization table.

    fp32    the transformers folder converted from the packaged GGUF (convert.py)
    bf16    the same weights cast to bfloat16 in memory (size = 2 bytes per parameter)
    int8    `cairn quantize --format int8`  (per-row absmax codes; embeddings/norms bf16)
    nf4     `cairn quantize --format nf4`   (block 64, double quant; embeddings/norms bf16)
    gguf    `cairn quantize --format gguf-q8_0|gguf-q4_0|gguf-q4_k_m`, run by llama.cpp
    source  the packaged GGUF itself, run by llama.cpp (the fp32 folder is its dequantization,
            so this row is the fp32 model up to llama.cpp's arithmetic)

Every row sees the same token ids (the fp32 tokenizer's) of the same held-out windows (the
demo clinical notes, which no SFT data contains), so perplexities compare directly. Results
go to benchmarks/results/builds-<model>-<date>.json with provenance.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

ROWS = ("fp32", "bf16", "int8", "nf4", "gguf-q8_0", "gguf-q4_0", "gguf-q4_k_m", "source")


def measure_rows(model: str, texts: Sequence[str], window: int, threads: int, rows: Sequence[str] = ROWS,
                 log: Callable[[str], None] = print) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One dict per build: name, size_bytes, ppl, mean_kl (vs fp32), seconds."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetune.convert import find_gguf, trainable_base
    from finetune.gate import heldout_windows, kl_per_position, perplexity
    from finetune.gate_run import HFSource, eos_ids_of
    from finetune.quantize import QuantizeConfig, load_quantized, quantize

    torch.set_num_threads(threads)
    base = trainable_base(model, progress=False)
    tok = AutoTokenizer.from_pretrained(base.path, local_files_only=True)
    seqs = heldout_windows(tok, texts, window)
    fp32 = AutoModelForCausalLM.from_pretrained(base.path, local_files_only=True, dtype=torch.float32).eval()
    eos = eos_ids_of(tok, fp32)
    n_params = sum(p.numel() for p in fp32.parameters())
    weights = sum(p.stat().st_size for p in base.path.glob("*.safetensors"))
    results: list[dict[str, Any]] = []
    reference: list[np.ndarray] = []

    def row(name: str, size: int, source: Any, note: str) -> None:
        started = time.perf_counter()
        logits = [source.logits(s) for s in seqs]
        if not reference:
            reference.extend(logits)
        kl = np.concatenate([kl_per_position(r, c) for r, c in zip(reference, logits)])
        results.append({"build": name, "size_bytes": size, "ppl": perplexity(logits, seqs),
                        "mean_kl": float(kl.mean()), "seconds": round(time.perf_counter() - started, 1), "note": note})
        log(f"{name}: {size / 2**20:.1f} MiB, ppl {results[-1]['ppl']:.3f}, KL {results[-1]['mean_kl']:.4f}")

    row("fp32", weights, HFSource(fp32, eos, 0), "transformers float32")
    if "bf16" in rows:
        row("bf16", 2 * n_params, _Upcast(fp32.to(torch.bfloat16)), "transformers bfloat16 (cast in memory)")
    del fp32
    for fmt in ("int8", "nf4"):
        if fmt in rows:
            build = quantize(QuantizeConfig(model=model, format=fmt, force=True))
            size = (build.out / "model.safetensors").stat().st_size
            row(fmt, size, HFSource(load_quantized(build.out, torch.float32), eos, 0), f"cairn quantize --format {fmt}")
    for fmt in ("gguf-q8_0", "gguf-q4_0", "gguf-q4_k_m"):
        if fmt in rows:
            build = quantize(QuantizeConfig(model=model, format=fmt, force=True))
            _llama_row(row, fmt, build.artifact, eos, seqs, threads, f"cairn quantize --format {fmt}, llama.cpp")
    source = find_gguf(Path(base.source)) if Path(base.source).suffix == ".gguf" else None
    if "source" in rows and source is not None:
        _llama_row(row, "source", source, eos, seqs, threads, f"packaged {source.name}, llama.cpp")
    meta = {"model": model, "base": str(base.path), "base_sha256": base.sha256, "parameters": n_params,
            "windows": len(seqs), "tokens": sum(len(s) - 1 for s in seqs), "window": window, "threads": threads}
    return results, meta


class _Upcast:
    """bf16 model, float32 logits."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def logits(self, ids: Sequence[int]) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.tensor([list(ids)])).logits[0].float().numpy()


def _llama_row(row: Callable[..., None], name: str, path: Path, eos: set[int], seqs: Sequence[Sequence[int]],
               threads: int, note: str) -> None:
    from finetune.gate_run import LlamaSource

    llama = LlamaSource(path, eos, n_ctx=max(256, max(len(s) for s in seqs) + 8), threads=threads)
    try:
        row(name, path.stat().st_size, llama, note)
    finally:
        llama.close()


def markdown(results: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    ref = results[0]["ppl"]
    lines = [f"{meta['model']}: perplexity on {meta['tokens']} held-out tokens ({meta['windows']} demo clinical "
             f"notes, ≤{meta['window']} tokens each)", "",
             "| build | size (MiB) | perplexity | × fp32 | mean KL to fp32 (nats) |",
             "|---|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['build']} | {r['size_bytes'] / 2**20:.1f} | {r['ppl']:.3f} | {r['ppl'] / ref:.3f} | "
                     f"{r['mean_kl']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from finetune.gate import heldout_texts
    from knowledge.home import set_offline_env
    from knowledge.provenance import ROOT, stamp

    set_offline_env()
    parser = argparse.ArgumentParser(prog="python -m finetune.bench_builds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="catalogue name, .gguf or model folder (default: "
                                                                "%(default)s)")
    parser.add_argument("--docs", type=int, default=8, help="held-out documents (default: %(default)s)")
    parser.add_argument("--window", type=int, default=256, help="tokens per document (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch and llama.cpp threads (default: %(default)s)")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS), help="builds to measure")
    parser.add_argument("--out", help="result JSON (default: benchmarks/results/builds-<model>-<date>.json)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    results, meta = measure_rows(args.model, heldout_texts("", args.docs), args.window, args.threads, args.rows)
    table = markdown(results, meta)
    print(table)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / \
        f"builds-{Path(args.model).name}-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stamp(kind="bench-builds", **meta, rows=results, table=table), indent=2, default=str),
                   encoding="utf-8")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
