"""`cairn grades import|export|stats|judge`: fill the expert grading queue, export grades as
golden cases and preference pairs, count what the grading database holds, and have the LLM judge
grade the expert-graded items for calibration (evals/grading/)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.llm.cli_args import add_llm_arguments, llm_config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "grades", help="expert grading database: import answers to grade, export golden cases / preference pairs",
        description="The grading database ($CAIRN_HOME/grades.sqlite) holds answers to grade (from chat and eval "
                    "runs), expert rubric grades and corrections, blind pairwise verdicts and chat feedback.")
    sub = p.add_subparsers(dest="grades_command", metavar="ACTION", required=True)
    db_help = "grades database (default $CAIRN_HOME/grades.sqlite)"

    imp = sub.add_parser(
        "import", help="queue answers for grading from eval runs or chat logs",
        description="Queue answers for expert grading. Each PATH is an eval run (its folder or results.jsonl, as "
                    "written by `cairn eval`) or a chat log (JSON lines with turn_id, as the UI writes to "
                    "$CAIRN_HOME/chat/turns.jsonl). Importing again adds only what is new.")
    imp.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="results.jsonl, eval run folder or chat log")
    imp.add_argument("--feedback", action="store_true", help="also queue the answers of stored chat feedback")
    imp.add_argument("--db", type=Path, metavar="PATH", help=db_help)
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser(
        "export", help="export expert grades as golden cases and/or TRL preference pairs",
        description="--golden: graded items become golden cases (DESIGN.md §2): reference = the expert's "
                    "correction, or the answer itself when graded >= 4 overall. --preferences: TRL "
                    "prompt/chosen/rejected pairs: a correction is chosen over the model's answer, a pairwise "
                    "winner over the loser (ties skipped). Each output gets OUT.provenance.json beside it.")
    exp.add_argument("--golden", type=Path, metavar="OUT", help="write golden cases (.jsonl) here")
    exp.add_argument("--preferences", type=Path, metavar="OUT", help="write preference pairs (.jsonl) here")
    exp.add_argument("--prompt", choices=("inference", "question"), default="inference",
                     help="preference prompt: the chat messages the model answered from (default), or the "
                          "question alone")
    exp.add_argument("--accept-overall", type=float, default=4.0, metavar="SCORE",
                     help="mean overall grade from which an uncorrected answer is a golden reference (default 4)")
    exp.add_argument("--db", type=Path, metavar="PATH", help=db_help)
    exp.add_argument("--user", metavar="NAME",
                     help="who exports, recorded in the audit log for note cases (default: the OS user)")
    exp.set_defaults(func=cmd_export)

    stats = sub.add_parser("stats", help="count items, grades, corrections, pairwise verdicts and feedback",
                           description="Count what the grading database holds (all collections).")
    stats.add_argument("--db", type=Path, metavar="PATH", help=db_help)
    stats.add_argument("--json", action="store_true", help="print the counts as JSON")
    stats.set_defaults(func=cmd_stats)

    judge = sub.add_parser(
        "judge", help="have the LLM judge grade the expert-graded items (for `cairn calibrate --grades-db`)",
        description="Grade items with the rubric LLM judge (relevance, accuracy, completeness, clarity, overall "
                    "1-5) and store the grades under the grader 'judge:<model>' (with --adapter, "
                    "'judge:<model>+<adapter>'). By default only items an expert has graded, which is what "
                    "calibration compares. Items this judge already graded are skipped, so a rerun judges only new "
                    "ones. A reply that is not a valid verdict is an abstention: counted, not stored. Each grade "
                    "records what the judge was sent and its raw reply.")
    judge.add_argument("--limit", type=int, metavar="N", help="judge at most N items (default: all)")
    judge.add_argument("--all", action="store_true", help="judge every item, not only the expert-graded ones")
    judge.add_argument("--samples", type=int, default=1, metavar="K",
                       help="judge calls per item, averaged and rounded (default: %(default)s; K > 1 needs "
                            "--temperature > 0)")
    judge.add_argument("--temperature", type=float, default=0.0, metavar="T",
                       help="judge sampling temperature (default: %(default)s, greedy)")
    judge.add_argument("--seed", type=int, default=0, help="seed of the first sample (default: %(default)s)")
    judge.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    judge.add_argument("--db", type=Path, metavar="PATH", help=db_help)
    add_llm_arguments(judge)
    judge.set_defaults(func=cmd_judge)


def open_existing_store(db: Path | None):
    """The grading database at `db` (default path when None); an error if it does not exist yet."""
    from .records import GradingError
    from .store import GradeStore, default_db_path

    path = db or default_db_path()
    if not path.is_file():
        raise GradingError(f"no grades database at {path}; queue answers with `cairn grades import` and grade them "
                           "in the UI's Grading tab first (or pass --db PATH)")
    return GradeStore(path)


def cmd_import(args: argparse.Namespace) -> int:
    from .queue import import_feedback, import_path
    from .records import GradingError
    from .store import GradeStore

    if not args.paths and not args.feedback:
        raise GradingError("nothing to import; pass eval results / chat logs as PATH, or --feedback")
    store = GradeStore(args.db)
    for path in args.paths:
        print(import_path(store, path).line())
    if args.feedback:
        print(import_feedback(store).line())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from knowledge.audit import Accessor

    from .export import export_golden, export_preferences
    from .records import GradingError

    if not args.golden and not args.preferences:
        raise GradingError("say what to export: --golden OUT and/or --preferences OUT")
    store = open_existing_store(args.db)
    accessor = Accessor.local("cli:grades", user=args.user)
    if args.golden:
        print(export_golden(store, args.golden, accept_overall=args.accept_overall, accessor=accessor).line())
    if args.preferences:
        print(export_preferences(store, args.preferences, prompt=args.prompt, accessor=accessor).line())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = open_existing_store(args.db)
    counts = store.counts(role="admin")
    if args.json:
        print(json.dumps({"db": str(store.path), **counts}, indent=1))
    else:
        print(f"grades database {store.path}")
        width = max(map(len, counts))
        for name, value in counts.items():
            print(f"  {name:<{width}}  {value:>6}")
    return 0


def cmd_judge(args: argparse.Namespace) -> int:
    from assistant.llm.config import load_llm

    from .judging import check_sampling, judge_items, judge_name
    from .records import GradingError

    if args.limit is not None and args.limit < 0:
        raise GradingError(f"--limit {args.limit} must be >= 0")
    check_sampling(args.samples, args.temperature)  # before a model is loaded
    store = open_existing_store(args.db)
    llm = load_llm(llm_config_from_args(args))
    try:
        # A LoRA adapter makes a different judge: its grades must not be mixed with the base model's.
        name = judge_name(llm.model_id + (f"+{Path(args.adapter).stem}" if args.adapter else ""))
        report = judge_items(store, llm, only_expert_graded=not args.all, limit=args.limit,
                             progress=not args.no_progress, judge=name, samples=args.samples,
                             temperature=args.temperature, seed=args.seed)
    finally:
        llm.close()
    print(report.line())
    for item_id, reason in report.abstentions:
        print(f"  abstained on item #{item_id}: {reason}")
    print(f"next: cairn calibrate --grades-db {store.path} --judge {report.judge}")
    return 0
