"""The evals tab's data, as plain functions: the nightly runs and their report, a browser over
any eval run's cases (answers, contexts, metrics, judge output), and judge-expert agreement.

Who sees what. Eval runs quote the knowledge base, clinical notes included, so everything here
is for graders (expert, admin: assistant/roles.py), and note-collection content only for roles
that may read notes: an expert browses catalog cases and sees the nightly numbers, but not the
full HTML report (its worst cases quote notes) nor a single notes case.

    nightly_runs(role)                 rows: run, started, profile, status, accepted suites
    nightly_report(role, run_id=None)  the run's self-contained report.html (in an iframe), or
                                       its numbers only for roles without notes
    eval_runs(role)                    folders holding a results.jsonl (nightly suites, cairn eval runs)
    run_cases(role, folder)            one row per case; case_detail(role, folder, key) its Markdown
    judge_agreement(role, store)       κ, quadratic κ, Spearman per criterion (cairn calibrate)

A case quotes documents, notes and model replies: its Markdown escapes every one of them
(knowledge/safe_text.py), so markup in a case is shown as text and loads nothing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.roles import may_read, require_grader
from knowledge.audit import Accessor, doc_ids_of, record_read
from knowledge.errors import CairnError
from knowledge.home import cairn_home
from knowledge.safe_text import html_text, markdown_code, markdown_text

CASE_HEADERS = ("key", "collection", "status", "metrics", "question")
RUN_HEADERS = ("run", "started", "profile", "status", "accepted suites")
NOTES_HIDDEN = "The full report quotes clinical notes; your role sees its numbers only."


def evals_home() -> Path:
    return cairn_home() / "evals"


def _history(path: str | Path | None):
    from evals.nightly.history import History

    path = Path(path) if path else evals_home() / "history.sqlite"
    return History(path) if path.exists() else None


def nightly_runs(role: str, *, history_path: str | Path | None = None, limit: int = 30) -> list[list[Any]]:
    require_grader(role)
    history = _history(history_path)
    if history is None:
        return []
    with history:
        return [[r.id, r.started, r.profile, r.status, ", ".join(r.accepted_suites)] for r in history.runs(limit=limit)]


def nightly_report(role: str, run_id: str | None = None, *, history_path: str | Path | None = None) -> str:
    """HTML for the page: the run's report.html in a sandboxed iframe (roles that may read notes),
    or a table of its numbers (other graders), or a line saying there is none yet."""
    require_grader(role)
    history = _history(history_path)
    if history is None:
        return "<p>No nightly run yet: run <code>cairn nightly</code> (docs/nightly.md).</p>"
    with history:
        runs = history.runs(limit=1) if not run_id else [history.get_run(run_id)]
        if not runs:
            return "<p>No nightly run yet: run <code>cairn nightly</code> (docs/nightly.md).</p>"
        run = runs[0]
        if not may_read(role, "notes"):
            return f"<p><em>{html_text(NOTES_HIDDEN)}</em></p>" + _numbers_table(history, run.id)
        report = Path(run.out_dir or "") / "report.html"
        if not report.is_file():
            return f"<p>Run {html_text(run.id)} has no report.html (it may still be running).</p>" + \
                _numbers_table(history, run.id)
        # srcdoc keeps the report self-contained on the page; sandbox without scripts: it needs none.
        return (f'<iframe title="nightly report {html_text(run.id)}" sandbox="" style="width:100%;height:900px;'
                f'border:1px solid #d0d7de" srcdoc="{html_text(report.read_text(encoding="utf-8"))}">'
                "</iframe>")


def _numbers_table(history: Any, run_id: str) -> str:
    rows = []
    for suite in history.suites_of(run_id):
        for metric, value in sorted(history.values(run_id, suite).items()):
            ci = f" [{value.low:.3f}, {value.high:.3f}]" if value.low is not None and value.high is not None else ""
            rows.append(f"<tr><td>{html_text(suite)}</td><td>{html_text(metric)}</td>"
                        f"<td>{value.value:.3f}{ci}</td><td>{value.n}</td></tr>")
    return ("<table><thead><tr><th>suite</th><th>metric</th><th>value [95% CI]</th><th>n</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def eval_runs(role: str, *, root: str | Path | None = None) -> list[str]:
    """Folders under $CAIRN_HOME/evals holding a results.jsonl, newest first, relative to it."""
    require_grader(role)
    base = Path(root) if root else evals_home()
    if not base.exists():
        return []
    found = sorted(base.rglob("results.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
    return [str(p.parent.relative_to(base)) for p in found]


def _records(folder: str, root: str | Path | None) -> list[dict[str, Any]]:
    from evals.results import ResultsFile, latest_records

    base = (Path(root) if root else evals_home()).resolve()
    path = (base / folder).resolve()
    if base not in path.parents and path != base:
        raise CairnError(f"run folder {folder!r} is outside {base}; pick one from the list")
    if not (path / "results.jsonl").is_file():
        raise CairnError(f"no results.jsonl in {path}; pick a run from the list (`cairn eval` writes them)")
    return list(latest_records(ResultsFile(path).read()).values())


def _collection(record: dict[str, Any]) -> str:
    return str((record.get("inputs") or {}).get("collection") or record.get("collection") or "")


def _visible(role: str, record: dict[str, Any]) -> bool:
    collection = _collection(record)
    return collection not in ("catalog", "notes") or may_read(role, collection)


def run_cases(role: str, folder: str, *, root: str | Path | None = None) -> tuple[list[list[Any]], str]:
    """(rows CASE_HEADERS, caption) of a run's cases the role may see."""
    require_grader(role)
    records = _records(folder, root)
    shown = [r for r in records if _visible(role, r)]
    rows = []
    for r in shown:
        metrics = ", ".join(f"{k} {v:.2f}" for k, v in sorted((r.get("metrics") or {}).items())
                            if isinstance(v, (int, float)))
        rows.append([r.get("key", ""), _collection(r), r.get("status", ""), metrics,
                     (r.get("inputs") or {}).get("question", "")])
    hidden = len(records) - len(shown)
    caption = f"{len(shown)} case{'s' if len(shown) != 1 else ''}" + (
        f" ({hidden} notes case{'s' if hidden != 1 else ''} hidden for your role)" if hidden else "")
    return rows, caption


def case_detail(role: str, folder: str, key: str, *, root: str | Path | None = None,
                user: str | None = None) -> str:
    """One case as Markdown: question, answer, metrics, contexts, judge output, error. `user`:
    who views it, for the audit log of note reads (default: the OS user)."""
    require_grader(role)
    record = next((r for r in _records(folder, root) if r.get("key") == key), None)
    if record is None or not _visible(role, record):
        return f"No case {markdown_text(repr(key))} in this run."  # the same words for a hidden one: no existence leak
    inputs = record.get("inputs") or {}
    patient = (inputs.get("filters") or {}).get("patient_id")  # audit log of note reads
    record_read(Accessor.local("app:evals", role=role, user=user), "view", _collection(record),
                doc_ids_of(record.get("contexts") or []), [patient] if isinstance(patient, str) else [],
                detail=f"{folder} {key}")
    parts = [f"### {markdown_text(key)}", f"**Question:** {markdown_text(inputs.get('question', ''))}"]
    if record.get("answer") is not None:
        answer = record["answer"]
        parts.append("**Answer:**\n\n" + markdown_text(answer.get("text") if isinstance(answer, dict) else answer))
    metrics = record.get("metrics") or {}
    if metrics:
        parts.append("**Metrics:** " + ", ".join(
            f"{markdown_code(k)} {v:.3f}" if isinstance(v, (int, float)) else f"{markdown_code(k)} {markdown_text(v)}"
            for k, v in sorted(metrics.items())))
    for ctx in record.get("contexts") or []:
        text = " ".join(str(ctx.get("text", "")).split())
        parts.append(f"> **[{markdown_text(ctx.get('n'))}]** {markdown_code(ctx.get('doc_id'))} "
                     f"{markdown_text(text[:700])}")
    for field in ("judge", "judge_raw", "metric_errors", "error"):
        if record.get(field):
            # Inert as it is: JSON escapes every line break inside a value, so no line of it can
            # close the fence, and nothing inside a fence is Markdown or HTML.
            parts.append(f"**{field}:**\n\n```json\n{json.dumps(record[field], indent=1, ensure_ascii=False)[:4000]}\n```")
    return "\n\n".join(parts)


def judge_agreement(role: str, store: Any, judge: str | None = None) -> tuple[list[list[Any]], str]:
    """Rows (criterion, n, abstained, exact, ±1, κ, quadratic κ, Spearman ρ) and a caption."""
    from evals.calibration import calibrate
    from evals.grading.calibration import grade_pairs

    require_grader(role)
    try:
        report = calibrate(grade_pairs(store, judge))
    except CairnError as exc:
        return [], markdown_text(exc)

    def cell(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    rows = [[a.criterion, a.n, a.abstained, cell(a.exact), cell(a.within_one), cell(a.kappa),
             cell(a.quadratic_kappa), cell(a.spearman)] for a in report.rows]
    return rows, "Judge vs expert grades (same as `cairn calibrate --grades-db`)."
