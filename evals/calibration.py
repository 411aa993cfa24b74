"""Calibration of the LLM judge against expert grades: does the judge grade like the experts do?
Exact and within-one agreement, Cohen's κ (Cohen 1960), quadratic-weighted κ for the ordinal 1–5
scale (Cohen 1968; Fleiss & Cohen 1973), Spearman's ρ (rank correlation, average ranks for
ties), and the judge's position-consistency rate on pairwise verdicts (Zheng et al. 2023).

    κ   = 1 - Σ w_ij O_ij / Σ w_ij E_ij      O: observed (expert i, judge j) counts,
                                            E_ij = row_i · col_j / n (chance agreement)
    w_ij = [i ≠ j] (κ),  (i - j)² (quadratic κ; a 1-vs-5 disagreement costs 16× a 1-vs-2)

κ is chance-corrected agreement: 0 is what a judge guessing with the same score distribution
gets, 1 is perfect; percent agreement alone flatters a judge that always says 4 when experts
mostly say 4. Undefined statistics (no scored pairs, a constant column) are None, never NaN.

Input, until expert grades come from the grading database: one CSV, one row per case and
criterion, header `case_id,criterion,expert_score,judge_score` (other columns ignored).
Scores are whole numbers 1–5; an empty judge_score is a judge abstention (counted, not scored).

    case_id,criterion,expert_score,judge_score
    cat-007,accuracy,4,5
    cat-007,clarity,3,
"""
from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from knowledge.errors import CairnError

from .judge.pairwise import PairwiseVerdict, PositionConsistency, position_consistency

SCALE_LABELS: tuple[int, ...] = (1, 2, 3, 4, 5)
COLUMNS: tuple[str, ...] = ("case_id", "criterion", "expert_score", "judge_score")
Weights = Literal["linear", "quadratic"] | None


class CalibrationError(CairnError):
    """Grades that cannot be compared (different lengths, a score off the scale, …)."""


class CalibrationInputError(CalibrationError):
    """A calibration file that cannot be read; the message names the file, line and fix."""


@dataclass(frozen=True)
class GradePair:
    """One (case, criterion) graded by an expert and by the judge (judge None = abstained).
    `source` says where it came from ("grades.csv:12") for error messages."""

    case_id: str
    criterion: str
    expert: int
    judge: int | None
    source: str = ""


@dataclass(frozen=True)
class Agreement:
    """Judge-vs-expert agreement on one criterion (or "all", pooled). `n` counts pairs the
    judge scored; `abstained` the ones it did not. Statistics are None when undefined."""

    criterion: str
    n: int
    abstained: int
    exact: float | None
    within_one: float | None
    kappa: float | None
    quadratic_kappa: float | None
    spearman: float | None


@dataclass(frozen=True)
class CalibrationReport:
    """Per-criterion agreement (plus a pooled "all" row when there are several criteria) and,
    when pairwise verdicts were given, the judge's position consistency."""

    rows: tuple[Agreement, ...]
    position_consistency: PositionConsistency | None = None


# -- the statistics (pure) ---------------------------------------------------------------------------

def _check_pair(a: Sequence[float], b: Sequence[float]) -> int:
    if len(a) != len(b):
        raise CalibrationError(f"the two score lists differ in length ({len(a)} vs {len(b)}); "
                               "pass one expert and one judge score per item")
    return len(a)


def percent_agreement(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Share of items where the two scores are equal; None for no items."""
    n = _check_pair(a, b)
    return sum(x == y for x, y in zip(a, b)) / n if n else None


def within_one_agreement(a: Sequence[int], b: Sequence[int]) -> float | None:
    """Share of items where the scores differ by at most one point (adjacent agreement)."""
    n = _check_pair(a, b)
    return sum(abs(x - y) <= 1 for x, y in zip(a, b)) / n if n else None


def cohen_kappa(a: Sequence[int], b: Sequence[int], *, weights: Weights = None,
                labels: Sequence[int] | None = None) -> float | None:
    """Cohen's κ of two raters' labels, unweighted or with linear/quadratic disagreement
    weights (formula in the module docstring; same definition as sklearn's
    `cohen_kappa_score`). `labels` fixes the categories and their order; by default the
    sorted labels either rater used. Weighted κ needs the full scale (`SCALE_LABELS`): with
    only the labels seen, 2 and 4 become neighbours when nobody used 3. None when κ is
    undefined (no items, or chance disagreement is zero: both raters used one label)."""
    n = _check_pair(a, b)
    if weights not in (None, "linear", "quadratic"):
        raise CalibrationError(f"weights={weights!r} is unknown; use None, 'linear' or 'quadratic'")
    labels = list(labels) if labels is not None else sorted(set(a) | set(b))
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({x for x in (*a, *b) if x not in index})
    if unknown:
        raise CalibrationError(f"score(s) {unknown} are not among labels {labels}; fix the data or pass labels=")
    if n == 0:
        return None
    k = len(labels)
    observed = [[0] * k for _ in range(k)]  # k×k: observed[expert label][judge label]
    for x, y in zip(a, b):
        observed[index[x]][index[y]] += 1
    rows = [sum(r) for r in observed]
    cols = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    power = {None: 0, "linear": 1, "quadratic": 2}[weights]

    def weight(i: int, j: int) -> float:
        return float(i != j) if power == 0 else float(abs(i - j) ** power)

    disagree = math.fsum(weight(i, j) * observed[i][j] for i in range(k) for j in range(k))
    chance = math.fsum(weight(i, j) * rows[i] * cols[j] / n for i in range(k) for j in range(k))
    return None if chance == 0 else 1.0 - disagree / chance


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, tied values sharing the mean of their positions ([10, 20, 20] -> [1, 2.5, 2.5])."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r = Σ(x-x̄)(y-ȳ) / sqrt(Σ(x-x̄)² Σ(y-ȳ)²). None when undefined: fewer than
    two items or a constant column."""
    n = _check_pair(x, y)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxy = math.fsum((u - mx) * (v - my) for u, v in zip(x, y))
    sxx = math.fsum((u - mx) ** 2 for u in x)
    syy = math.fsum((v - my) ** 2 for v in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's ρ: the Pearson correlation of the average ranks (as scipy.stats.spearmanr).
    None when undefined: fewer than two items or a constant column."""
    _check_pair(x, y)
    return pearson_r(average_ranks(x), average_ranks(y))


def agreement(criterion: str, pairs: Sequence[GradePair]) -> Agreement:
    """All agreement statistics for `pairs`, judge abstentions counted and left out. κ uses
    the full 1–5 scale as its categories (see `cohen_kappa`)."""
    scored = [p for p in pairs if p.judge is not None]
    expert = [p.expert for p in scored]
    judge = [p.judge for p in scored]
    return Agreement(
        criterion=criterion, n=len(scored), abstained=len(pairs) - len(scored),
        exact=percent_agreement(expert, judge), within_one=within_one_agreement(expert, judge),
        kappa=cohen_kappa(expert, judge, labels=SCALE_LABELS),
        quadratic_kappa=cohen_kappa(expert, judge, weights="quadratic", labels=SCALE_LABELS),
        spearman=spearman_rho(expert, judge),
    )


def calibrate(pairs: Sequence[GradePair], pairwise: Iterable[PairwiseVerdict] = ()) -> CalibrationReport:
    """Agreement per criterion (in first-seen order), a pooled "all" row when there are
    several criteria, and the position consistency of `pairwise` verdicts if any are given."""
    if not pairs:
        raise CalibrationError("no grade pairs to calibrate; give at least one (expert, judge) score")
    by_criterion: dict[str, list[GradePair]] = {}
    for pair in pairs:
        by_criterion.setdefault(pair.criterion, []).append(pair)
    rows = [agreement(name, group) for name, group in by_criterion.items()]
    if len(rows) > 1:
        rows.append(agreement("all", pairs))
    pairwise = list(pairwise)
    consistency = position_consistency(pairwise) if pairwise else None
    return CalibrationReport(rows=tuple(rows), position_consistency=consistency)


# -- reading grades ----------------------------------------------------------------------------------

def _score(text: str | None, column: str, where: str, *, optional: bool) -> int | None:
    """A 1–5 score cell. "4" and "4.0" (spreadsheet exports) are 4; empty is None if optional."""
    text = (text or "").strip()
    if not text:
        if optional:
            return None
        raise CalibrationInputError(f"{where}: {column} is empty; every row needs an expert score 1–5")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value != int(value) or int(value) not in SCALE_LABELS:
        hint = " (round mean judge scores first, or leave it empty for an abstention)" if optional else ""
        raise CalibrationInputError(f"{where}: {column}={text!r} is not a whole number 1–5{hint}")
    return int(value)


def load_calibration_csv(path: str | Path) -> list[GradePair]:
    """Read grade pairs from a CSV (format in the module docstring). Raises
    CalibrationInputError naming the file and line of the first bad row."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationInputError(f"{path}: no such file; pass a CSV with columns {','.join(COLUMNS)}")
    pairs: list[GradePair] = []
    seen: dict[tuple[str, str], str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:  # -sig: Excel writes a BOM
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise CalibrationInputError(f"{path}:1: header lacks column(s) {missing}; "
                                        f"the first line must name {','.join(COLUMNS)}")
        reader.fieldnames = header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            case_id, criterion = ((row.get(c) or "").strip() for c in ("case_id", "criterion"))
            if not case_id or not criterion:
                raise CalibrationInputError(f"{where}: case_id and criterion must both be non-empty "
                                            f"(got {case_id!r}, {criterion!r})")
            key = (case_id, criterion)
            if key in seen:
                raise CalibrationInputError(f"{where}: {case_id!r}/{criterion!r} is graded again (first at "
                                            f"{seen[key]}); keep one row per case and criterion")
            seen[key] = where
            pairs.append(GradePair(case_id=case_id, criterion=criterion,
                                   expert=_score(row.get("expert_score"), "expert_score", where, optional=False),
                                   judge=_score(row.get("judge_score"), "judge_score", where, optional=True),
                                   source=where))
    if not pairs:
        raise CalibrationInputError(f"{path}: no grade rows after the header; add rows like "
                                    "'cat-007,accuracy,4,5'")
    return pairs


# -- report ------------------------------------------------------------------------------------------

def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def format_table(report: CalibrationReport) -> str:
    """The report as a fixed-width text table (what `cairn calibrate` prints)."""
    width = max(9, *(len(r.criterion) for r in report.rows))
    head = (f"{'criterion':<{width}}  {'n':>5}  {'abst':>5}  {'exact':>6}  {'±1':>6}  {'kappa':>6}  "
            f"{'qw-kappa':>8}  {'spearman':>8}")
    lines = [head, "-" * len(head)]
    for r in report.rows:
        lines.append(f"{r.criterion:<{width}}  {r.n:>5}  {r.abstained:>5}  {_cell(r.exact):>6}  "
                     f"{_cell(r.within_one):>6}  {_cell(r.kappa):>6}  {_cell(r.quadratic_kappa):>8}  "
                     f"{_cell(r.spearman):>8}")
    consistency = report.position_consistency
    if consistency is not None:
        lines.append(f"position consistency: {_cell(consistency.rate)} "
                     f"({consistency.consistent}/{consistency.judged} pairwise verdicts agreed across both orders)")
    return "\n".join(lines)
