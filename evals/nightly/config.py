"""NightlyConfig: which suites a `cairn nightly` run scores, how each is gated, and where the
history and the reports go — typed, checked when built, read from TOML with named profiles.

    # nightly.toml
    name = "demo"                  # history lineage: baselines are per (name, profile, suite)
    auto_accept = "first"          # "first" | "never" | "always" (see AUTO_ACCEPT)
    [eval]                         # EvalConfig keys (as in eval.toml) for every agent suite
    judge = "self"
    [eval.model]
    n_threads = 1
    [gate]                         # gates for every suite that reports the metric
    error_rate = { max = 0.0 }
    [suites.catalog-qa]            # one table per suite, run in file order
    golden = ["evals/golden/catalog_qa.jsonl"]   # relative to this file
    kind = "agent"                 # "agent": Agent.ask + metrics; "retrieval": router + search only
    limit = 30
    [suites.catalog-qa.gate]       # metric -> {min, max, regression, direction, tolerance}
    refusal_correct = { min = 0.7, regression = true }
    [profiles.fast]                # `--profile fast` / `--fast`: deep-merged over the whole file
    eval = { judge = "off", model = { model = "qwen2.5-coder-0.5b" } }
    suites.catalog-qa.limit = 4

Precedence for an agent suite's EvalConfig (lowest first): EvalConfig defaults < [eval] <
the suite's `eval_config` file < the suite's `eval` table < the suite's `limit` / `tags`.
Metric names are those of summary.json's `metrics` plus the derived ones of
evals/nightly/values.py (error_rate, cases_per_min, latency.<task>.<timing>.p50|p95).
"""
from __future__ import annotations

import copy
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from evals.config import EvalConfig, EvalConfigError

SuiteKind = Literal["agent", "retrieval"]
Direction = Literal["higher", "lower"]
AutoAccept = Literal["first", "never", "always"]
# AUTO_ACCEPT: when a run's passing suites become the baseline without `--accept`:
#   "first"  only a suite that has no accepted run with its signature yet (SuiteConfig.signature:
#            the first baseline, and the first after its cases or settings changed; later by hand)
#   "never"  only `--accept` or `cairn nightly accept RUN_ID`
#   "always" every passing suite (a ratchet: slow drift inside the CI is never flagged)
AUTO_ACCEPT = get_args(AutoAccept)
DEFAULT_PROFILE = "full"
FAST_PROFILE = "fast"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = {"name", "history", "out", "auto_accept", "worst_cases", "trend_runs", "eval", "gate", "suites",
             "profiles"}
_SUITE_KEYS = {"kind", "golden", "eval", "eval_config", "limit", "tags", "gate", "primary", "enabled", "k"}
_GATE_KEYS = {"min", "max", "regression", "direction", "tolerance"}
_NOT_QUALITY = {"error_rate", "cases_per_min"}  # gateable, but not what ranks the worst cases


class NightlyConfigError(EvalConfigError):
    """A bad nightly setting or nightly.toml; the message names the value and the fix."""


@dataclass(frozen=True)
class MetricGate:
    """How one metric gates a run.

    Fields:
        metric: a metric name (summary.json `metrics` key, or a derived one: error_rate,
            cases_per_min, latency.<task>.<timing>.p50|p95).
        min / max: absolute thresholds (fail when value < min or value > max).
        regression: also fail when the run regresses beyond its 95% CI against the last
            accepted run (evals/nightly/gate.py defines it exactly).
        direction: "higher" or "lower" is better; None: inferred from the name (latencies,
            error_rate and *_s are lower-is-better, everything else higher).
        tolerance: slack in the metric's own units a regression must also exceed (e.g. 0.5 s
            for a latency on a noisy shared machine); 0: the CI alone decides.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    regression: bool = False
    direction: Direction | None = None
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        where = f"gate {self.metric!r}"
        if not isinstance(self.metric, str) or not self.metric.strip():
            raise NightlyConfigError(f"gate metric={self.metric!r} must be a metric name like 'ndcg@10'")
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise NightlyConfigError(f"{where}: {name}={value!r} must be a finite number, e.g. {name} = 0.5")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise NightlyConfigError(f"{where}: min={self.min} > max={self.max}; no value can pass, swap them")
        if not isinstance(self.regression, bool):
            raise NightlyConfigError(f"{where}: regression={self.regression!r} must be true or false")
        if self.direction is not None and self.direction not in get_args(Direction):
            raise NightlyConfigError(f"{where}: direction={self.direction!r} is unknown; use 'higher' or 'lower' "
                                     "(or leave it out to infer it from the name)")
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, (int, float)) \
                or not math.isfinite(self.tolerance) or self.tolerance < 0:
            raise NightlyConfigError(f"{where}: tolerance={self.tolerance!r} must be a number >= 0 "
                                     "(slack in the metric's units)")
        if self.min is None and self.max is None and not self.regression:
            raise NightlyConfigError(f"{where} checks nothing; give min, max or regression = true, or remove it")


@dataclass(frozen=True)
class SuiteConfig:
    """One suite of a nightly run.

    Fields:
        name: the suite's name in the history and the report (letters, digits, . _ -).
        golden: golden .jsonl files (DESIGN.md §2), resolved against the config file's folder.
        kind: "agent" runs `cairn eval` (Agent.ask, every metric); "retrieval" runs only the
            chat's router and search tool (no LLM: fast, the whole set fits any budget).
        eval: the EvalConfig the suite runs with (limit and tags included); retrieval suites
            read its role, mode, today, limit, tags, seed and bootstrap_b.
        gate: metric -> MetricGate: the suite's own gates (in file order), then the
            nightly-wide [gate] entries it does not override.
        required: the metrics named in the suite's own gate: missing from the results is a
            failure (a nightly-wide gate on a metric the suite does not report is skipped).
        primary: the metric that ranks the worst cases and heads the overview (None: the
            first quality metric of the suite's own gate, else the summary's first metric).
        enabled: False leaves the suite out (e.g. in a profile).
        k: retrieval suites: sources retrieved per question (metrics are @10).
    """

    name: str
    golden: tuple[Path, ...]
    kind: SuiteKind = "agent"
    eval: EvalConfig = field(default_factory=EvalConfig)
    gate: dict[str, MetricGate] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    primary: str | None = None
    enabled: bool = True
    k: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise NightlyConfigError(f"suite name {self.name!r} must be letters, digits, '.', '_' or '-' "
                                     "(it names a folder and a history row), e.g. [suites.catalog-qa]")
        if self.kind not in get_args(SuiteKind):
            raise NightlyConfigError(f"suite {self.name}: kind={self.kind!r} is unknown; use 'agent' or 'retrieval'")
        if not self.golden:
            raise NightlyConfigError(f"suite {self.name}: golden = [] names no file; list golden .jsonl files")
        missing = [str(p) for p in self.golden if not Path(p).is_file()]
        if missing:
            raise NightlyConfigError(f"suite {self.name}: golden file {missing[0]} does not exist; golden paths are "
                                     "relative to the nightly config file's folder")
        if not isinstance(self.enabled, bool):
            raise NightlyConfigError(f"suite {self.name}: enabled={self.enabled!r} must be true or false")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 20:
            raise NightlyConfigError(f"suite {self.name}: k={self.k!r} must be an integer in 1..20 "
                                     "(sources retrieved per question)")
        if self.primary is not None and (not isinstance(self.primary, str) or not self.primary.strip()):
            raise NightlyConfigError(f"suite {self.name}: primary={self.primary!r} must be a metric name")

    def signature(self) -> str:
        """sha256 (16 hex) of what decides which cases run and how they are answered: kind, k,
        the eval settings that change a result (EvalConfig.config_hash), limit, tags and the
        golden files' contents. Baselines are only taken from runs with the same signature."""
        import hashlib
        import json

        from evals.summary import file_sha256

        data = {"kind": self.kind, "k": self.k, "eval": self.eval.config_hash(), "limit": self.eval.limit,
                "tags": sorted(self.eval.tags), "golden": [file_sha256(p) for p in self.golden]}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def primary_metric(self) -> str | None:
        """`primary`, else the first quality metric of the suite's own gate (a `min` one
        first), else None (the report then takes the summary's first metric)."""
        if self.primary:
            return self.primary
        own = [g for g in self.gate.values() if g.metric in self.required and g.metric not in _NOT_QUALITY
               and not g.metric.startswith("latency.")]
        return next((g.metric for g in own if g.min is not None), own[0].metric if own else None)


@dataclass(frozen=True)
class NightlyConfig:
    """A whole nightly run.

    Fields:
        name: the history lineage; baselines are looked up per (name, profile, suite).
        profile: the profile applied ("full" when none was chosen).
        suites: the enabled suites, in file order.
        history: the SQLite history file (default $CAIRN_HOME/evals/history.sqlite).
        out_root: where run folders go (<out_root>/<run id>/; default $CAIRN_HOME/evals/nightly).
        auto_accept: "first" | "never" | "always" (AUTO_ACCEPT above).
        worst_cases: lowest-scoring cases shown per suite in the report.
        trend_runs: how many earlier runs the trend plots reach back.
        source: the TOML file it came from ("" when built in code).
        raw: the merged TOML document (recorded with the run, hashed for `config_hash`).
    """

    suites: tuple[SuiteConfig, ...]
    name: str = "nightly"
    profile: str = DEFAULT_PROFILE
    history: Path | None = None
    out_root: Path | None = None
    auto_accept: AutoAccept = "first"
    worst_cases: int = 5
    trend_runs: int = 30
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("profile", self.profile)):
            if not isinstance(value, str) or not _NAME_RE.match(value):
                raise NightlyConfigError(f"{label}={value!r} must be letters, digits, '.', '_' or '-'")
        if not self.suites:
            raise NightlyConfigError("no enabled suite; add a [suites.NAME] table with golden = [...] "
                                     "(or set enabled = true on one)")
        names = [s.name for s in self.suites]
        if len(set(names)) != len(names):
            raise NightlyConfigError(f"suite names {names} repeat one; give each suite its own name")
        if self.auto_accept not in AUTO_ACCEPT:
            raise NightlyConfigError(f"auto_accept={self.auto_accept!r} is unknown; use one of {', '.join(AUTO_ACCEPT)}")
        for label, value, low, high in (("worst_cases", self.worst_cases, 0, 100), ("trend_runs", self.trend_runs, 2, 1000)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise NightlyConfigError(f"{label}={value!r} must be an integer in {low}..{high}")

    def history_path(self) -> Path:
        from knowledge.home import cairn_home

        return Path(self.history) if self.history else cairn_home() / "evals" / "history.sqlite"

    def run_root(self) -> Path:
        from knowledge.home import cairn_home

        return Path(self.out_root) if self.out_root else cairn_home() / "evals" / "nightly"

    def config_hash(self) -> str:
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --- loading -----------------------------------------------------------------------------------

def load_nightly(path: str | Path, profile: str | None = None) -> NightlyConfig:
    """Read nightly.toml and apply `profile` (a [profiles.NAME] table deep-merged over it)."""
    path = Path(path)
    if not path.is_file():
        raise NightlyConfigError(f"nightly config {path} does not exist; pass --config FILE (the repository's "
                                 "nightly.toml is an example)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise NightlyConfigError(f"{path} is not valid TOML ({exc}); fix the file") from exc
    return nightly_from_dict(data, base=path.resolve().parent, source=str(path), profile=profile)


def nightly_from_dict(data: dict[str, Any], *, base: Path, source: str = "config",
                      profile: str | None = None) -> NightlyConfig:
    data = copy.deepcopy(data)
    profiles = data.pop("profiles", {}) or {}
    _unknown(source, "", data, _TOP_KEYS - {"profiles"})
    if not isinstance(profiles, dict):
        raise NightlyConfigError(f"{source}: `profiles` must hold tables, e.g. [profiles.fast]")
    if profile is not None and profile != DEFAULT_PROFILE:
        if profile not in profiles:
            raise NightlyConfigError(f"{source}: no profile {profile!r}; defined: "
                                     f"{', '.join(sorted(profiles)) or 'none'} (add a [profiles.{profile}] table)")
        overlay = profiles[profile]
        _unknown(f"{source} [profiles.{profile}]", "", overlay, _TOP_KEYS - {"profiles"})
        unknown_suites = sorted(set(overlay.get("suites") or {}) - set(data.get("suites") or {}))
        if unknown_suites:
            raise NightlyConfigError(f"{source}: [profiles.{profile}.suites.{unknown_suites[0]}] names no suite; "
                                     f"define [suites.{unknown_suites[0]}] first or fix the name")
        data = deep_merge(data, overlay)
    suites_data = data.get("suites") or {}
    if not isinstance(suites_data, dict):
        raise NightlyConfigError(f"{source}: `suites` must be tables, e.g. [suites.catalog-qa]")
    common_eval = _table(source, "eval", data.get("eval"))
    common_gate = parse_gates(_table(source, "gate", data.get("gate")), f"{source} [gate]")
    suites = tuple(s for s in (_suite(name, raw, common_eval, common_gate, base, source)
                               for name, raw in suites_data.items()) if s.enabled)
    return NightlyConfig(
        suites=suites, name=data.get("name", "nightly"), profile=profile or DEFAULT_PROFILE,
        history=_path(base, data.get("history")), out_root=_path(base, data.get("out")),
        auto_accept=data.get("auto_accept", "first"), worst_cases=data.get("worst_cases", 5),
        trend_runs=data.get("trend_runs", 30), source=source, raw=data)


def _suite(name: str, raw: Any, common_eval: dict[str, Any], common_gate: dict[str, MetricGate], base: Path,
           source: str) -> SuiteConfig:
    where = f"{source} [suites.{name}]"
    raw = dict(_table(source, f"suites.{name}", raw))
    _unknown(where, "", raw, _SUITE_KEYS)
    golden = raw.get("golden", [])
    golden = [golden] if isinstance(golden, str) else golden
    if not isinstance(golden, list) or not all(isinstance(g, str) for g in golden):
        raise NightlyConfigError(f"{where}: golden={golden!r} must be a list of .jsonl paths")
    eval_data = copy.deepcopy(common_eval)
    if raw.get("eval_config"):
        file = _path(base, raw["eval_config"])
        try:
            eval_data = deep_merge(eval_data, tomllib.loads(Path(file).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise NightlyConfigError(f"{where}: eval_config {file} cannot be read ({exc}); fix the path "
                                     "(relative to the nightly config) or the file") from exc
    eval_data = deep_merge(eval_data, _table(where, "eval", raw.get("eval")))
    for key in ("limit", "tags"):
        if key in raw:
            eval_data[key] = raw[key]
    eval_config = EvalConfig.from_dict(eval_data, source=where)
    own_gate = parse_gates(_table(where, "gate", raw.get("gate")), f"{where} gate")
    return SuiteConfig(name=name, golden=tuple(_path(base, g) for g in golden), kind=raw.get("kind", "agent"),
                       eval=eval_config, required=frozenset(own_gate),
                       gate={**own_gate, **{m: g for m, g in common_gate.items() if m not in own_gate}},
                       primary=raw.get("primary"), enabled=raw.get("enabled", True), k=raw.get("k", 10))


def parse_gates(data: dict[str, Any], where: str) -> dict[str, MetricGate]:
    gates = {}
    for metric, spec in data.items():
        if not isinstance(spec, dict):
            raise NightlyConfigError(f"{where}: {metric} = {spec!r} must be a table like "
                                     f'"{metric}" = {{ min = 0.5, regression = true }}')
        _unknown(f"{where} {metric!r}", "", spec, _GATE_KEYS)
        gates[metric] = MetricGate(metric=metric, **spec)
    return gates


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`: tables merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _table(source: str, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NightlyConfigError(f"{source}: `{key}` must be a table ([{key}] or {key} = {{ ... }}), got {value!r}")
    return value


def _path(base: Path, value: Any) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise NightlyConfigError(f"path {value!r} must be a non-empty string")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _unknown(source: str, prefix: str, data: dict[str, Any], known: set[str]) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise NightlyConfigError(f"{source}: unknown key {prefix}{extra[0]!r}; known keys: {', '.join(sorted(known))}")
