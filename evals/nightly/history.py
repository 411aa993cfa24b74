"""The nightly history: one SQLite file (WAL) holding every run, every suite's numbers with their
intervals, the gate's findings, and which runs are accepted as baselines.

    runs        id, name, profile, started, finished, git_commit, config_hash, config_json,
                provenance_json, status (running | passed | failed), out_dir
    suites      (run_id, suite) kind, signature, status (ok | error), error, cases, ok, errors, wall_s,
                cases_per_min, assistant_s, scoring_s, passed, accepted, accepted_at, finished
    metrics     (run_id, suite, scope, metric) value, ci_low, ci_high, n
                scope "" = the suite's headline numbers, "tag:<t>" / "file:<f>" = breakdowns
    findings    run_id, suite, metric, kind, severity, value, reference, message

Baselines are per suite, not per run: `last_accepted(name, profile, suite, signature)` is the
newest accepted suite row of that lineage made with the same suite signature (the same cases
and settings: SuiteConfig.signature), so accepting a run whose one suite failed keeps that
suite's old baseline, and a suite whose golden file or limit changed is not compared with
numbers over other cases. Nothing is lost on a crash: each suite's rows are written in one
transaction as soon as the suite ends, and a run left "running" can be resumed.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.nightly.gate import Finding
from evals.nightly.values import OVERALL, MetricValue
from knowledge.errors import CairnError

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, profile TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    git_commit TEXT, config_hash TEXT, config_json TEXT, provenance_json TEXT,
    status TEXT NOT NULL DEFAULT 'running', out_dir TEXT);
CREATE TABLE IF NOT EXISTS suites (
    run_id TEXT NOT NULL REFERENCES runs(id), suite TEXT NOT NULL, kind TEXT, signature TEXT, status TEXT NOT NULL,
    error TEXT, cases INTEGER, ok INTEGER, errors INTEGER, wall_s REAL, cases_per_min REAL,
    assistant_s REAL, scoring_s REAL, passed INTEGER, accepted INTEGER NOT NULL DEFAULT 0, accepted_at TEXT,
    finished TEXT, PRIMARY KEY (run_id, suite));
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, suite TEXT NOT NULL, scope TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL, ci_low REAL, ci_high REAL, n INTEGER, PRIMARY KEY (run_id, suite, scope, metric));
CREATE TABLE IF NOT EXISTS findings (
    run_id TEXT NOT NULL, suite TEXT NOT NULL, metric TEXT, kind TEXT NOT NULL, severity TEXT NOT NULL,
    value REAL, reference REAL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_by_name ON metrics (suite, metric, scope);
"""


class HistoryError(CairnError):
    """A history database problem or an unknown run; the message names the fix."""


@dataclass(frozen=True)
class RunRow:
    id: str
    name: str
    profile: str
    started: str
    finished: str | None
    git_commit: str | None
    status: str
    out_dir: str | None
    accepted_suites: tuple[str, ...]


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    started: str
    value: float
    low: float | None
    high: float | None
    n: int
    accepted: bool


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class History:
    """The history database; one connection, used from one thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a committed suite survives a power cut
            with self.db:
                self.db.executescript(_SCHEMA)
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path} is not a usable history database ({exc}); move it away and rerun "
                               "(a new one is created) or point `history` elsewhere") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -------------------------------------------------------------------------------
    def start_run(self, run_id: str, *, name: str, profile: str, git_commit: str, config_hash: str,
                  config: Mapping[str, Any], out_dir: str | Path) -> None:
        with self.db:
            self.db.execute("INSERT INTO runs (id, name, profile, started, git_commit, config_hash, config_json, "
                            "status, out_dir) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?)",
                            (run_id, name, profile, now(), git_commit, config_hash,
                             json.dumps(config, default=str, sort_keys=True), str(out_dir)))

    def record_suite(self, run_id: str, suite: str, *, kind: str, status: str, signature: str | None = None,
                     error: str | None = None,
                     summary: Mapping[str, Any] | None = None, values: Mapping[str, MetricValue] | None = None,
                     scoped: Mapping[tuple[str, str], MetricValue] | None = None) -> None:
        """One finished (or crashed) suite and all its numbers, in one transaction; a rerun of
        the same suite in the same run (a resume) replaces its rows."""
        counts = (summary or {}).get("counts") or {}
        throughput = (summary or {}).get("throughput") or {}
        rows = [(OVERALL, m, v) for m, v in (values or {}).items()] + [(s, m, v) for (s, m), v in (scoped or {}).items()]
        with self.db:
            self._forget_suite(run_id, suite)
            self.db.execute(
                "INSERT INTO suites (run_id, suite, kind, signature, status, error, cases, ok, errors, wall_s, "
                "cases_per_min, assistant_s, scoring_s, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, suite, kind, signature, status, error, counts.get("cases"), counts.get("ok"), counts.get("errors"),
                 throughput.get("wall_s"), throughput.get("cases_per_min"), throughput.get("assistant_s"),
                 throughput.get("scoring_s"), now()))
            self.db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [(run_id, suite, scope, metric, v.value, v.low, v.high, v.n) for scope, metric, v in rows])

    def _forget_suite(self, run_id: str, suite: str) -> None:
        for table in ("suites", "metrics", "findings"):
            self.db.execute(f"DELETE FROM {table} WHERE run_id = ? AND suite = ?", (run_id, suite))

    def record_findings(self, run_id: str, suite: str, findings: Iterable[Finding], *, passed: bool) -> None:
        with self.db:
            self.db.execute("DELETE FROM findings WHERE run_id = ? AND suite = ?", (run_id, suite))
            self.db.executemany("INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [(run_id, f.suite, f.metric, f.kind, f.severity, f.value, f.reference, f.message)
                                 for f in findings])
            self.db.execute("UPDATE suites SET passed = ? WHERE run_id = ? AND suite = ?", (int(passed), run_id, suite))

    def finish_run(self, run_id: str, *, passed: bool, provenance: Mapping[str, Any] | None = None) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished = ?, status = ?, provenance_json = ? WHERE id = ?",
                            (now(), "passed" if passed else "failed",
                             json.dumps(provenance or {}, default=str, sort_keys=True), run_id))

    def accept(self, run_id: str, suites: Iterable[str] | None = None) -> list[str]:
        """Mark suites of `run_id` (default: every one that ran) as accepted baselines; returns
        the suites accepted. A suite that crashed has no numbers and cannot be accepted."""
        self.get_run(run_id)  # raises for an unknown id
        rows = {r["suite"]: r["status"] for r in self.db.execute(
            "SELECT suite, status FROM suites WHERE run_id = ? ORDER BY rowid", (run_id,))}
        wanted = list(rows) if suites is None else list(suites)
        unknown = [s for s in wanted if s not in rows]
        if unknown:
            raise HistoryError(f"run {run_id} has no suite {unknown[0]!r}; it ran: {', '.join(rows) or 'none'}")
        broken = [s for s in wanted if rows[s] != "ok"]
        if suites is not None and broken:
            raise HistoryError(f"suite {broken[0]!r} of run {run_id} did not finish (status {rows[broken[0]]}); "
                               "it has no numbers to compare against: accept another run")
        chosen = [s for s in wanted if rows[s] == "ok"]
        with self.db:
            self.db.executemany("UPDATE suites SET accepted = 1, accepted_at = ? WHERE run_id = ? AND suite = ?",
                                [(now(), run_id, s) for s in chosen])
        return chosen

    # --- reading -------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRow:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            latest = [r.id for r in self.runs(limit=3)]
            raise HistoryError(f"no run {run_id!r} in {self.path}; recent runs: {', '.join(latest) or 'none'} "
                               "(`cairn nightly history` lists them)")
        return self._run_row(row)

    def _run_row(self, row: sqlite3.Row) -> RunRow:
        accepted = tuple(r["suite"] for r in self.db.execute(
            "SELECT suite FROM suites WHERE run_id = ? AND accepted = 1 ORDER BY suite", (row["id"],)))
        return RunRow(row["id"], row["name"], row["profile"], row["started"], row["finished"], row["git_commit"],
                      row["status"], row["out_dir"], accepted)

    def runs(self, *, name: str | None = None, profile: str | None = None, limit: int = 20) -> list[RunRow]:
        """Newest first."""
        sql, args = "SELECT * FROM runs", []
        where = [(c, v) for c, v in (("name", name), ("profile", profile)) if v is not None]
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where)
            args = [v for _, v in where]
        rows = self.db.execute(sql + " ORDER BY rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._run_row(r) for r in rows]

    def suites_of(self, run_id: str) -> dict[str, dict[str, Any]]:
        return {r["suite"]: dict(r) for r in self.db.execute(
            "SELECT * FROM suites WHERE run_id = ? ORDER BY rowid", (run_id,))}

    def values(self, run_id: str, suite: str, scope: str = OVERALL) -> dict[str, MetricValue]:
        return {r["metric"]: MetricValue(r["value"], r["ci_low"], r["ci_high"], r["n"] or 0) for r in self.db.execute(
            "SELECT * FROM metrics WHERE run_id = ? AND suite = ? AND scope = ?", (run_id, suite, scope))}

    def last_accepted(self, name: str, profile: str, suite: str, *, signature: str | None = None,
                      before: str | None = None) -> str | None:
        """The newest accepted run id of this lineage that ran `suite` (with this `signature`,
        when given; other than `before`)."""
        sql = ("SELECT r.id FROM runs r JOIN suites s ON s.run_id = r.id WHERE r.name = ? AND r.profile = ? "
               "AND s.suite = ? AND s.accepted = 1 AND s.status = 'ok' AND r.id != ?")
        args: list[Any] = [name, profile, suite, before or ""]
        if signature is not None:
            sql += " AND s.signature = ?"
            args.append(signature)
        row = self.db.execute(sql + " ORDER BY r.rowid DESC LIMIT 1", args).fetchone()
        return row["id"] if row else None

    def trend(self, name: str, profile: str, suite: str, metric: str, *, scope: str = OVERALL,
              limit: int = 30) -> list[TrendPoint]:
        """The metric over the newest `limit` runs of the lineage, oldest first."""
        rows = self.db.execute(
            "SELECT r.id, r.started, m.value, m.ci_low, m.ci_high, m.n, s.accepted FROM metrics m "
            "JOIN runs r ON r.id = m.run_id JOIN suites s ON s.run_id = m.run_id AND s.suite = m.suite "
            "WHERE r.name = ? AND r.profile = ? AND m.suite = ? AND m.metric = ? AND m.scope = ? "
            "ORDER BY r.rowid DESC LIMIT ?", (name, profile, suite, metric, scope, limit)).fetchall()
        return [TrendPoint(r["id"], r["started"], r["value"], r["ci_low"], r["ci_high"], r["n"] or 0,
                           bool(r["accepted"])) for r in reversed(rows)]

    def findings(self, run_id: str) -> list[Finding]:
        return [Finding(r["suite"], r["metric"] or "", r["kind"], r["severity"], r["message"], r["value"],
                        r["reference"]) for r in self.db.execute("SELECT * FROM findings WHERE run_id = ? ORDER BY rowid",
                                                                 (run_id,))]
