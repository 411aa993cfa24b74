"""`python -m finetune.bench_train [--models smollm2-135m qwen2.5-coder-0.5b]`: peak memory and
step time of the three ways to fine-tune one model, measured in one run so the ratios compare:

    full   every parameter trains; AdamW keeps two moments per parameter. With --bf16 the
           weights, gradients and AdamW state stay float32 (the master copy) and the forward
           and backward run under torch.autocast(bfloat16), as trl/transformers `bf16=True` do:
           a pure-bf16 AdamW would round updates of ~lr·1 below bf16's resolution away.
    lora   our `finetune.lora.LoRALinear` (r=8, alpha=16) on all seven projections of every
           block; the base frozen (bfloat16 with --bf16, else float32), adapters float32 — the
           dtypes `cairn sft` uses through peft. Our layer rather than peft so that `lora` and
           `qlora` run the very same adapter code and differ only in the frozen base.
    qlora  our scratch `finetune.qlora.QLoRALinear`: the same adapters over NF4 codes
           (block 64, double quant) that the forward dequantizes to the input's dtype; the
           embeddings, norms and (tied) lm_head stay dense and frozen, as in Dettmers et al. 2023.

Each (model, method) runs in its own Python process (`--worker`), so one method's peak
cannot hide in another's, and a method that runs out of memory or time kills only itself and
is reported as such. Inside a worker: load the model, set it up for the method, one warm-up
step (allocator and oneDNN caches), then `--steps` timed steps on random token ids
(batch × seq-len, loss on every position; no gradient checkpointing, as in `cairn sft`).

    memory   peak_train: VmHWM over the training steps alone — the kernel's peak-RSS counter
             is reset through /proc/self/clear_refs ("5") right before the warm-up step;
             state: counted, not measured — weights + gradients + AdamW state in bytes;
             process: the lifetime peak (getrusage), which includes loading — the QLoRA
             worker loads dense weights before quantizing them, so its process peak is not
             what a layer-by-layer 4-bit loader would need. (rss_setup in the JSON, RSS once
             the model is ready, undercounts float32 loads: safetensors maps the file and
             pages count only once touched.)
    time     median of the timed steps (forward + backward + AdamW step + zero_grad).

What the first run showed: our scratch QLoRA peaked *above* LoRA, because QuantLinear's forward
let F.linear save each dequantized weight for backward (every projection dense again during a
step). QuantLinear now runs through an autograd Function that keeps the codes and dequantizes
again in backward, as bitsandbytes' MatMul4Bit does; the rerun has QLoRA below LoRA in peak RSS
(at the cost of a second dequantization per step).

Rounds interleave: round i runs the methods rotated by i (full, lora, qlora → lora, qlora,
full → …), so slow drift of a shared machine hits every method; with --repeats > 1 a row
is the median over all rounds' timed steps and the largest peak. Before starting a full
fine-tune the run estimates its memory (16 bytes per parameter + 20%) and skips it, saying
so, if the machine has less available. Results go to benchmarks/results/train-<date>.json
with provenance; the table is printed as Markdown.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from knowledge.errors import CairnError

METHODS: tuple[str, ...] = ("full", "lora", "qlora")
DEFAULT_MODELS: tuple[str, ...] = ("smollm2-135m", "qwen2.5-coder-0.5b")
RECORD_PREFIX = "BENCH-TRAIN-RECORD "
MIB = 2**20
# full FT: fp32 weights 4 + grads 4 + AdamW m, v 8 bytes per parameter; activations on top.
FULL_FT_BYTES_PER_PARAM = 16
FULL_FT_HEADROOM = 1.2

Method = Literal["full", "lora", "qlora"]


class BenchConfigError(CairnError, ValueError):
    """A benchmark setting outside its valid range."""


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process trains and how.

    model: a trainable transformers folder (convert.trainable_base of a catalogue name).
    method: "full" | "lora" | "qlora" (see the module docstring).
    steps: timed optimizer steps, after `warmup` untimed ones.
    seq_len, batch: tokens per sequence and sequences per step (random ids, fixed seed).
    bf16: bfloat16 compute (full: autocast over float32 masters; lora/qlora: bf16 base).
    rank, alpha: LoRA rank r and scale numerator (lora, qlora).
    lr: AdamW learning rate (only so that the step does real updates).
    threads: torch CPU threads (0 = torch's default).
    """

    model: str
    method: Method
    steps: int = 3
    warmup: int = 1
    seq_len: int = 256
    batch: int = 1
    bf16: bool = False
    rank: int = 8
    alpha: float = 16.0
    lr: float = 1e-5
    threads: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {"method": self.method in METHODS, "steps": self.steps >= 1, "warmup": self.warmup >= 0,
                  "seq_len": self.seq_len >= 2, "batch": self.batch >= 1, "rank": self.rank >= 1,
                  "alpha": self.alpha > 0, "lr": self.lr > 0, "threads": self.threads >= 0}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise BenchConfigError(f"invalid {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}; need method in "
                                   f"{METHODS}, steps, batch, rank >= 1, seq_len >= 2, warmup, threads >= 0 and "
                                   "alpha, lr > 0")


# -- memory counters (Linux /proc; getrusage as the portable fallback) ------------------------------

def _status_bytes(field_name: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return None


def rss_bytes() -> int | None:
    return _status_bytes("VmRSS")


def peak_rss_bytes() -> int | None:
    """VmHWM: the peak RSS since the process started or since `reset_peak_rss()`."""
    return _status_bytes("VmHWM")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0, `echo 5 > /proc/PID/clear_refs`)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def lifetime_peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux, bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def release_freed_memory() -> None:
    """Collect garbage and hand freed heap back to the OS, so RSS shows what is still held."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# -- one method ---------------------------------------------------------------------------------------

def setup_method(model: Any, method: Method, rank: int, alpha: float) -> tuple[list[Any], str]:
    """Make `model` trainable the way `method` does; (parameters to optimize, description)."""
    import torch

    from finetune.lora import LLAMA_PROJECTIONS, LoRALinear, replace_linears
    from finetune.qlora import inject_qlora

    if method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        how = "all parameters, AdamW"
    else:
        for p in model.parameters():
            p.requires_grad_(False)
        if method == "lora":
            replace_linears(model, LLAMA_PROJECTIONS,
                            lambda lin: LoRALinear(lin, rank, alpha, adapter_dtype=torch.float32))
            how = f"finetune.lora.LoRALinear r={rank} alpha={alpha:g} on {'/'.join(LLAMA_PROJECTIONS)}"
        else:
            inject_qlora(model, LLAMA_PROJECTIONS, r=rank, alpha=alpha)
            how = f"finetune.qlora.QLoRALinear (NF4 block 64, double quant) r={rank} alpha={alpha:g} on all 7 projections"
    return [p for p in model.parameters() if p.requires_grad], how


def tensor_bytes(model: Any) -> int:
    """Storage of every parameter and buffer (a tied embedding counted once)."""
    seen, total = set(), 0
    for t in [*model.parameters(), *model.buffers()]:
        key = t.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def optimizer_state_bytes(optimizer: Any) -> int:
    import torch

    return sum(v.numel() * v.element_size() for s in optimizer.state.values() for v in s.values()
               if isinstance(v, torch.Tensor))


def train_worker(spec: WorkerSpec, load: Callable[[WorkerSpec], Any] | None = None) -> dict[str, Any]:
    """Load, set up, warm up and time one method in this process; the record of what happened.
    `load` (tests) returns the model to train instead of reading `spec.model` from disk."""
    import torch

    if spec.threads:
        torch.set_num_threads(spec.threads)
    started = time.perf_counter()
    full_autocast = spec.bf16 and spec.method == "full"
    # full FT keeps float32 masters; the frozen base of lora/qlora is stored in bf16 with --bf16
    dtype = torch.bfloat16 if spec.bf16 and not full_autocast else torch.float32
    if load is None:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(spec.model, local_files_only=True, dtype=dtype)
    else:
        model = load(spec).to(dtype)
    model.config.use_cache = False
    total = sum(p.numel() for p in model.parameters())  # before NF4 turns projections into buffers
    torch.manual_seed(spec.seed)
    params, how = setup_method(model, spec.method, spec.rank, spec.alpha)
    model.train()
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=0.0)
    vocab = model.get_input_embeddings().num_embeddings
    g = torch.Generator().manual_seed(spec.seed)
    batches = [torch.randint(0, vocab, (spec.batch, spec.seq_len), generator=g)
               for _ in range(spec.warmup + spec.steps)]
    release_freed_memory()
    load_seconds = time.perf_counter() - started
    rss_setup = rss_bytes()
    weights = tensor_bytes(model)
    reset = reset_peak_rss()

    def step(ids: Any) -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=full_autocast):
            loss = model(input_ids=ids, labels=ids).loss  # HF shifts labels; mean over B·(T−1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    times, losses = [], []
    for i, ids in enumerate(batches):
        t0 = time.perf_counter()
        losses.append(step(ids))
        if i >= spec.warmup:
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    trainable = sum(p.numel() for p in params)
    peak_train = peak_rss_bytes() if reset else None
    grads = sum(p.numel() * p.element_size() for p in params)  # one gradient per trained weight, its dtype
    return {
        "method": spec.method, "how": how, "status": "ok",
        "dtype": ("float32 masters, bf16 autocast" if full_autocast else
                  f"{'bfloat16' if dtype == torch.bfloat16 else 'float32'} base"
                  + (", float32 adapters" if spec.method != "full" else "")),
        "params_total": total, "params_trainable": trainable, "trainable_pct": 100.0 * trainable / total,
        "weight_bytes": weights, "grad_bytes": grads, "optimizer_state_bytes": optimizer_state_bytes(optimizer),
        "rss_setup_bytes": rss_setup, "peak_rss_train_bytes": peak_train,
        "peak_rss_process_bytes": lifetime_peak_rss_bytes(),
        "setup_seconds": round(load_seconds, 2), "step_seconds": [round(t, 4) for t in times],
        "median_step_seconds": round(median, 4), "tokens_per_second": round(spec.batch * spec.seq_len / median, 1),
        "loss_first": losses[0], "loss_last": losses[-1], "threads": torch.get_num_threads(),
    }


# -- orchestration -------------------------------------------------------------------------------------

def run_isolated(spec: WorkerSpec, timeout: float) -> dict[str, Any]:
    """`train_worker(spec)` in a fresh `python -m finetune.bench_train --worker` process.
    Out of memory (SIGKILL), a timeout or a crash becomes a record with that status."""
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    cmd = [sys.executable, "-m", "finetune.bench_train", "--worker", json.dumps(asdict(spec))]
    base = {"method": spec.method, "params_trainable": None, "median_step_seconds": None}
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=Path(__file__).resolve().parent.parent)
    except subprocess.TimeoutExpired:
        return {**base, "status": "timeout", "error": f"did not finish {spec.warmup + spec.steps} steps in {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RECORD_PREFIX):
            return json.loads(line[len(RECORD_PREFIX):])
    if proc.returncode in (-9, 137):
        return {**base, "status": "oom", "error": "killed by SIGKILL (out of memory?)"}
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {**base, "status": "error", "error": f"exit {proc.returncode}: {' | '.join(tail)}"}


def available_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        v = _meminfo("MemAvailable")
        return v


def _meminfo(name: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def parameter_count(folder: Path) -> int:
    """Parameters of the architecture in `folder`, built on the meta device (no storage)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder, local_files_only=True))
    return sum(p.numel() for p in model.parameters())


def round_order(round_index: int, methods: Sequence[str] = METHODS) -> list[str]:
    """Methods rotated by the round: drift over the run spreads over all of them."""
    k = round_index % len(methods)
    return list(methods[k:]) + list(methods[:k])


def combine(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One row from a method's records over rounds: median of every timed step, largest peaks."""
    ok = [r for r in records if r.get("status") == "ok"]
    if not ok:
        return dict(records[-1])
    row = dict(ok[-1])
    steps = [t for r in ok for t in r["step_seconds"]]
    row["step_seconds"] = steps
    row["median_step_seconds"] = round(statistics.median(steps), 4)
    row["tokens_per_second"] = round(row["tokens_per_second"] * ok[-1]["median_step_seconds"]
                                     / row["median_step_seconds"], 1)
    for key in ("peak_rss_train_bytes", "peak_rss_process_bytes", "rss_setup_bytes"):
        vals = [r[key] for r in ok if r.get(key) is not None]
        row[key] = max(vals) if vals else None
    row["rounds"] = len(ok)
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """× full FT of the same model, for peak training RSS, step time and trainable params."""
    for row in rows:
        full = next((r for r in rows if r["model"] == row["model"] and r["method"] == "full"
                     and r.get("status") == "ok"), None)
        for key, name in (("peak_rss_train_bytes", "peak_rss_vs_full"), ("median_step_seconds", "step_time_vs_full"),
                          ("params_trainable", "trainable_vs_full")):
            ok = full is not None and row.get("status") == "ok" and full.get(key) and row.get(key) is not None
            row[name] = round(row[key] / full[key], 4) if ok else None


def state_mib(r: dict[str, Any]) -> str:
    parts = [r.get(k) for k in ("weight_bytes", "grad_bytes", "optimizer_state_bytes")]
    return "—" if None in parts else f"{sum(parts) / MIB:,.0f}"


def markdown(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> str:
    title = (f"Fine-tuning cost, {meta['date']}, {meta['machine']}: batch {meta['batch']} × {meta['seq_len']} tokens, "
             f"{'bf16' if meta['bf16'] else 'fp32'}, median of {meta['steps']} timed steps after {meta['warmup']} "
             f"warm-up × {meta['repeats']} round(s), {meta['threads']} thread(s)")
    header = ("| model | method | trainable params | weights + grads + AdamW (MiB) | peak RSS, training (MiB) "
              "| × full | step (s) | × full | tokens/s |")
    lines = [title, "", header, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def num(v: Any, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"| {r['model']} | {r['method']} | — | {r['status']}: {r.get('error', '')} | | | | | |")
            continue
        peak = r["peak_rss_train_bytes"]
        lines.append(
            f"| {r['model']} | {r['method']} | {r['params_trainable']:,} ({r['trainable_pct']:.2f}%) | "
            f"{state_mib(r)} | {num(peak and peak / MIB, ',.0f')} | {num(r.get('peak_rss_vs_full'), '.2f')} | "
            f"{r['median_step_seconds']:.2f} | "
            f"{num(r.get('step_time_vs_full'), '.2f')} | {r['tokens_per_second']:,.0f} |")
    return "\n".join(lines)


def run_bench(models: Sequence[str], args: argparse.Namespace, log: Callable[[str], None] = print
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one combined row per model × method, every worker's raw record)."""
    from finetune.convert import trainable_base

    bases = {m: trainable_base(m, progress=False) for m in models}
    params = {m: parameter_count(b.path) for m, b in bases.items()}
    raw: list[dict[str, Any]] = []
    for round_index in range(args.repeats):
        for mi, name in enumerate(models):
            for method in round_order(round_index + mi, args.methods):
                spec = WorkerSpec(model=str(bases[name].path), method=method, steps=args.steps, warmup=args.warmup,
                                  seq_len=args.seq_len, batch=args.batch, bf16=args.bf16, rank=args.rank,
                                  threads=args.threads)
                need = FULL_FT_BYTES_PER_PARAM * params[name] * FULL_FT_HEADROOM
                have = available_bytes()
                if method == "full" and have is not None and need > have:
                    rec = {"method": method, "status": "skipped", "params_trainable": params[name],
                           "error": f"needs ~{need / 2**30:.1f} GiB, {have / 2**30:.1f} GiB available"}
                else:
                    log(f"[round {round_index + 1}/{args.repeats}] {name} {method} …")
                    rec = run_isolated(spec, args.timeout)
                rec.update(model=name, round=round_index)
                raw.append(rec)
                if rec.get("status") == "ok":
                    log(f"    peak {rec['peak_rss_train_bytes'] and rec['peak_rss_train_bytes'] / MIB:.0f} MiB, "
                        f"median step {rec['median_step_seconds']:.2f} s, loss {rec['loss_first']:.2f}"
                        f"→{rec['loss_last']:.2f}")
                else:
                    log(f"    {rec['status']}: {rec.get('error', '')}")
    rows = []
    for name in models:
        for method in args.methods:
            rows.append({**combine([r for r in raw if r["model"] == name and r["method"] == method]),
                         "model": name, "base_sha256": bases[name].sha256, "parameters": params[name]})
    add_ratios(rows)
    return rows, raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.bench_train", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS),
                        help="catalogue names, .gguf files or model folders (default: %(default)s)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                        help="which ways to fine-tune (default: all three)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per worker (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: %(default)s)")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per sequence (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=1, help="sequences per step (default: %(default)s)")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 compute: full FT under autocast with float32 masters, LoRA/QLoRA bf16 base")
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank r (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds, each with the methods in a rotated order (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per worker (0 = torch's default)")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds a worker may take before it is reported as too slow (default: %(default)s)")
    parser.add_argument("--out", help="result JSON (default: benchmarks/results/train-<date>.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # JSON WorkerSpec: run one method, print its record
    return parser


def main(argv: list[str] | None = None) -> int:
    from knowledge.home import set_offline_env

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    set_offline_env()
    args = build_parser().parse_args(argv)
    if args.worker:
        record = train_worker(WorkerSpec(**json.loads(args.worker)))
        print(RECORD_PREFIX + json.dumps(record), flush=True)
        return 0
    if args.repeats < 1 or args.timeout <= 0:
        raise SystemExit("--repeats must be >= 1 and --timeout > 0")
    from knowledge.provenance import ROOT, cpu_model, stamp

    started = time.perf_counter()
    rows, raw = run_bench(args.models, args)
    cpu = cpu_model()
    total_mem = _meminfo("MemTotal")
    machine = f"{os.cpu_count()} CPU cores ({cpu}), {total_mem / 2**30:.0f} GiB RAM" if total_mem else \
        f"{os.cpu_count()} CPU cores ({cpu})"
    threads = args.threads or next((r["threads"] for r in raw if r.get("threads")), "default")
    meta = {"date": dt.date.today().isoformat(), "machine": machine, "batch": args.batch, "seq_len": args.seq_len,
            "bf16": args.bf16, "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats,
            "threads": threads, "rank": args.rank, "methods": args.methods, "models": args.models,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "seconds": round(time.perf_counter() - started, 1)}
    table = markdown(rows, meta)
    print("\n" + table)
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"train-{meta['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    import importlib.metadata as md

    versions = {p: md.version(p) for p in ("transformers", "peft")}
    out.write_text(json.dumps(stamp(kind="bench-train", **meta, training_versions=versions, rows=rows, workers=raw,
                                    table=table), indent=2, default=str), encoding="utf-8")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
