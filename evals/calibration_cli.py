"""`cairn calibrate`: how closely the LLM judge's scores follow expert grades (evals/calibration.py)."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate", help="agreement of judge scores with expert grades (κ, quadratic κ, Spearman ρ)",
        description="Compare LLM-judge scores with expert grades per criterion: exact and within-one "
                    "agreement, Cohen's kappa, quadratic-weighted kappa and Spearman's rho. The CSV has one "
                    "row per case and criterion: case_id,criterion,expert_score,judge_score (whole numbers "
                    "1-5; an empty judge_score is a judge abstention).")
    p.add_argument("--csv", type=Path, required=True, metavar="FILE",
                   help="grades CSV with header case_id,criterion,expert_score,judge_score")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration import calibrate, format_table, load_calibration_csv

    report = calibrate(load_calibration_csv(args.csv))
    print(json.dumps(asdict(report), indent=1, ensure_ascii=False) if args.json else format_table(report))
    return 0
