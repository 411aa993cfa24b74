"""`cairn nightly`: run the eval suites of nightly.toml, append them to the history database,
write report.html / summary.md / findings.json, and exit 1 when the gate fails; plus
`cairn nightly accept RUN_ID` and `cairn nightly history` (evals/nightly/ does the work)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  cairn nightly                                  # ./nightly.toml, full profile (default answer model)
  cairn nightly --config nightly.toml --fast     # the [profiles.fast] table: CI budget, 0.5B model
  cairn nightly --fast --out ci-report --no-gate # write the reports, never fail the job
  cairn nightly --resume 20261122T031500Z-3f9a   # finish a run that was interrupted
  cairn nightly history                          # recent runs, status, accepted suites
  cairn nightly accept 20261122T031500Z-3f9a     # make that run the baseline of every suite it ran
  cairn nightly accept RUN_ID --suite catalog-qa # ... of one suite only

Exit status: 0 when every gate passed (or --no-gate), 1 when a metric is below its threshold,
regressed beyond its 95% CI against the last accepted run, or a suite could not run; 2 on a
usage or config error. Baselines move only by acceptance: --accept, `cairn nightly accept`,
or the config's auto_accept ("first": a suite's first passing run). See docs/nightly.md.
"""


def _shared(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options that both `cairn nightly` and its subcommands take (SUPPRESS on the subcommands,
    so `cairn nightly --config X accept ID` and `cairn nightly accept ID --config X` agree)."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("--config", type=Path, help="nightly config TOML (default: ./nightly.toml)", **default)
    profile = parser.add_mutually_exclusive_group()
    profile.add_argument("--profile", help="apply the config's [profiles.NAME] table (default: none, 'full')", **default)
    profile.add_argument("--fast", action="store_true",
                         help="= --profile fast: the CI-sized profile (the repository's: 0.5B model, a few cases)",
                         **default)
    parser.add_argument("--history", type=Path, help="history SQLite file (default: the config's `history`, else "
                                                     "$CAIRN_HOME/evals/history.sqlite)", **default)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "nightly", help="run the eval suites, keep their history, gate on thresholds and regressions, HTML report",
        description="Run every suite of a nightly config (agent suites: `cairn eval`'s pipeline; retrieval suites:\n"
                    "the chat's router and search tool, no model), store each metric with its bootstrap 95% CI in a\n"
                    "SQLite history, gate on thresholds and on regressions against the last accepted run, and write\n"
                    "report.html (tables, per-tag breakdowns, trend plots, worst cases, latency percentiles),\n"
                    "summary.md and findings.json to the run folder.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _shared(p, suppress=False)
    p.add_argument("--out", type=Path, help="the run folder (default: $CAIRN_HOME/evals/nightly/<run id>)")
    p.add_argument("--accept", action="store_true",
                   help="make this run's passing suites the new baselines (failing suites keep theirs)")
    p.add_argument("--no-gate", dest="gate", action="store_false",
                   help="report the findings but exit 0 (a first run, or a job that must not fail)")
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run in its own folder")
    p.add_argument("--quiet", action="store_true", help="no per-case progress bars")
    p.set_defaults(func=cmd_nightly)
    sub = p.add_subparsers(dest="nightly_command", metavar="[SUBCOMMAND]",
                           help="optional; without one, `cairn nightly` runs the suites")
    a = sub.add_parser("accept", help="make a run the baseline its successors are compared with",
                       description="Mark a run's suites as accepted: later runs of the same config name and profile\n"
                                   "are checked for regressions against the newest accepted run of each suite.\n"
                                   "A failing run may be accepted (an intended change); a suite that did not run\n"
                                   "cannot.", formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("run_id", metavar="RUN_ID", help="a run id from `cairn nightly history`")
    a.add_argument("--suite", action="append", dest="suites", metavar="NAME",
                   help="accept only this suite (repeatable; default: every suite that ran)")
    _shared(a, suppress=True)
    a.set_defaults(func=cmd_accept)
    h = sub.add_parser("history", help="list recent nightly runs: status, commit, accepted suites")
    h.add_argument("--limit", type=int, default=20, help="runs to list (default 20)")
    h.add_argument("--all", action="store_true", help="every config name and profile, not just this config's")
    _shared(h, suppress=True)
    h.set_defaults(func=cmd_history)


def _profile(args: argparse.Namespace) -> str | None:
    if getattr(args, "fast", False):
        from evals.nightly.config import FAST_PROFILE

        return FAST_PROFILE
    return getattr(args, "profile", None)


def _config(args: argparse.Namespace, *, required: bool = True):
    from evals.nightly.config import load_nightly

    path = getattr(args, "config", None) or Path("nightly.toml")
    if not required and not path.exists():
        return None
    return load_nightly(path, _profile(args))


def _history(args: argparse.Namespace, config) -> Path:
    from knowledge.home import cairn_home

    if getattr(args, "history", None):
        return args.history
    return config.history_path() if config is not None else cairn_home() / "evals" / "history.sqlite"


def cmd_nightly(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from evals.nightly.run import MARKDOWN_NAME, run_nightly

    config = _config(args)
    if args.history:
        config = replace(config, history=args.history)
    outcome = run_nightly(config, out_dir=args.out, accept=args.accept, gate=args.gate, resume=args.resume,
                          progress=not args.quiet)
    print((outcome.out_dir / MARKDOWN_NAME).read_text(encoding="utf-8"))
    print(f"report: {outcome.out_dir / 'report.html'}")
    if not outcome.passed:
        print(f"cairn nightly: gate {'FAILED' if args.gate else 'failed (ignored: --no-gate)'}:", file=sys.stderr)
        for finding in outcome.findings:
            if finding.severity == "fail":
                print(f"  {finding}", file=sys.stderr)
    return outcome.exit_code


def cmd_accept(args: argparse.Namespace) -> int:
    from evals.nightly.history import History

    with History(_history(args, _config(args, required=False))) as history:
        run = history.get_run(args.run_id)
        accepted = history.accept(args.run_id, args.suites)
        note = "" if run.status == "passed" else f" (the run's gate status is {run.status})"
        print(f"accepted run {args.run_id}{note}: {', '.join(accepted) or 'no suite (none finished)'}; later "
              f"{run.name}/{run.profile} runs compare against it")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from evals.nightly.history import History

    config = _config(args, required=False)
    with History(_history(args, config)) as history:
        scope = {} if args.all or config is None else {"name": config.name, "profile": config.profile}
        runs = history.runs(limit=args.limit, **scope)
        if not runs:
            print(f"no runs in {history.path}")
            return 0
        print(f"{'run id':<24}{'lineage':<20}{'status':<9}{'started':<27}{'commit':<14}accepted suites")
        for run in runs:
            print(f"{run.id:<24}{run.name + '/' + run.profile:<20}{run.status:<9}{run.started:<27}"
                  f"{(run.git_commit or '-')[:12]:<14}{', '.join(run.accepted_suites) or '-'}")
    return 0
