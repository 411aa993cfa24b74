"""`cairn bench ui`: what the web page adds to the time to first token, measured in a real
browser against the same question answered the way `cairn ask` answers it, in one run.

    browser  headless chromium (Playwright) on the served app: from the Enter key press in the
             question box (the page's own clock, a keydown listener) to the first text of the
             answer bubble on the page (a MutationObserver on the chat), through the queue, the
             stream and the page's rendering.
    cli      the same agent object the page uses, `Agent.ask` with a stream callback (what
             `cairn ask` runs, minus process start-up): from the call to the first piece.
Each question runs both ways, the order alternating question by question so machine drift hits
both; the conversation is reset before each browser run, so both prompts are identical. The
ratio browser/cli is taken per question and summarised by median and spread. Target: <= 1.10.

Needs the test extras (Playwright) and Debian's chromium, like the browser tests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from knowledge.bench import bench_suites, percentile
from knowledge.errors import CairnError
from knowledge.provenance import ROOT, stamp

CHROMIUM = os.environ.get("CAIRN_CHROMIUM", "/usr/bin/chromium")  # Debian's; the browser tests use it too
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
# Page clock of the Enter press, and of the first answer text after it.
_WATCH = """() => {
  window.__t0 = undefined; window.__t1 = undefined;
  const box = document.querySelector('#question textarea');
  if (!window.__watching) {
    box.addEventListener('keydown', e => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);
    new MutationObserver(() => {
      if (window.__t0 === undefined || window.__t1 !== undefined) return;
      const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
      const last = bots[bots.length - 1];
      if (last && last.innerText.trim().length > 0) window.__t1 = performance.now();
    }).observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
    window.__watching = true;
  }
}"""


class BenchUIError(CairnError):
    """A missing prerequisite of the UI benchmark; the message names the fix."""


def browser_ttft(page: Any, question: str, timeout_ms: int = 600_000) -> float:
    """Seconds from Enter to the first answer text on the page; waits for the answer to end."""
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_function("() => document.querySelectorAll('#chatbot [data-testid=\"bot\"]').length === 0")
    page.evaluate(_WATCH)
    page.locator("#question textarea").fill(question)
    page.locator("#question textarea").press("Enter")
    page.wait_for_function("() => window.__t1 !== undefined", timeout=timeout_ms)
    page.wait_for_function("() => { const s = document.querySelector('#status').innerText; "
                           "return s.length > 0 && !s.includes('answering'); }", timeout=timeout_ms)
    return page.evaluate("() => (window.__t1 - window.__t0) / 1000")


def cli_ttft(agent: Any, question: str) -> float:
    """Seconds from `Agent.ask` to its first streamed piece (the answer runs to its end)."""
    first: list[float] = []
    start = time.perf_counter()
    agent.ask(question, stream_callback=lambda piece: first or first.append(time.perf_counter() - start))
    if not first:
        raise BenchUIError(f"no piece was streamed for {question!r}")
    return first[0]


def summarise(records: list[dict[str, float]]) -> dict[str, Any]:
    ratios = [r["browser_s"] / r["cli_s"] for r in records]
    out: dict[str, Any] = {"n": len(records)}
    for key, values in (("browser_s", [r["browser_s"] for r in records]), ("cli_s", [r["cli_s"] for r in records]),
                        ("ratio", ratios)):
        out[key] = {"median": statistics.median(values), "p10": percentile(values, 0.1),
                    "p90": percentile(values, 0.9), "min": min(values), "max": max(values)}
    out["target_met"] = out["ratio"]["median"] <= 1.10
    return out


def run(services: Any, questions: list[tuple[str, str]], *, role: str = "admin") -> list[dict[str, float]]:
    """Serve `services` in this process, drive it with chromium, time each question both ways."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BenchUIError("Playwright is missing; install the test extras: .venv/bin/pip install -e '.[test]'") from exc
    if not Path(CHROMIUM).exists():
        raise BenchUIError(f"chromium not found at {CHROMIUM}; apt-get install chromium (make test-setup does)")
    import app

    demo = app.build_demo(services)
    demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", server_port=None,
                                                   prevent_thread_lock=True, quiet=True)
    records = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(demo.local_url)
            for i, (collection, question) in enumerate(questions):
                page.get_by_label(collection, exact=True).check()
                agent = services.agent(role, collection)
                order = ("cli", "browser") if i % 2 == 0 else ("browser", "cli")
                timed = {}
                for way in order:
                    timed[way] = cli_ttft(agent, question) if way == "cli" else browser_ttft(page, question)
                records.append({"question": question, "collection": collection, "cli_s": timed["cli"],
                                "browser_s": timed["browser"], "first": order[0]})
                print(f"  [{i + 1}/{len(questions)}] cli {timed['cli']:.2f}s  browser {timed['browser']:.2f}s  "
                      f"ratio {timed['browser'] / timed['cli']:.3f}  {question[:60]}", flush=True)
            browser.close()
    finally:
        demo.close()
    return records


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.llm.cli_args import add_llm_arguments

    p = bench_suites(subparsers).add_parser(
        "ui", help="time to first token in the browser vs the same question through cairn ask",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=6, help="golden questions to time (default %(default)s)")
    p.add_argument("--max-tokens", type=int, default=48,
                   help="answer length cap for both ways (only the first token is timed; default %(default)s)")
    p.add_argument("--out", type=Path, help="result JSON (default benchmarks/results/ui-<date>.json)")
    add_llm_arguments(p)
    p.set_defaults(func=cmd_bench_ui)


def cmd_bench_ui(args: argparse.Namespace) -> int:
    import app
    from assistant.bench import GOLDEN, pick_questions
    from assistant.llm.cli_args import llm_config_from_args
    from assistant.llm.config import load_llm

    if args.n < 1:
        raise BenchUIError(f"--n {args.n} must be >= 1")
    config = llm_config_from_args(args)
    services = app.Services(app.AppConfig(local_role="admin", max_tokens=args.max_tokens, llm=config),
                            llm=load_llm(config))
    questions = pick_questions(GOLDEN, args.n)
    services.agent("admin", questions[0][0]).ask(questions[0][1])  # warm-up: indexes, embedder, model
    records = run(services, questions)
    summary = summarise(records)
    r = summary["ratio"]
    print(f"browser TTFT / cli TTFT: median {r['median']:.3f} (p10 {r['p10']:.3f}, p90 {r['p90']:.3f}, "
          f"n={summary['n']}); browser median {summary['browser_s']['median']:.2f}s, cli median "
          f"{summary['cli_s']['median']:.2f}s; target <= 1.10 {'met' if summary['target_met'] else 'NOT met'}")
    out = args.out or ROOT / "benchmarks" / "results" / f"ui-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "records": records, "model": services.llm.model_id,
                               "provenance": stamp(model_fingerprint=services.llm.fingerprint, llm_config=config.to_dict(),
                                                   max_tokens=args.max_tokens)}, indent=2))
    print(f"wrote {out}")
    return 0
