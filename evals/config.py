"""EvalConfig: every setting of a `cairn eval` run (model, agent, judge, metrics, bootstrap),
typed and checked when built, loadable from TOML; `config_hash()` decides what a resumed run may
reuse.

    # eval.toml — top-level keys are EvalConfig fields, [model] holds LLMConfig fields
    judge = "off"                      # "self" (the answer model) | "off" | a model name or path
    metrics = ["refusal", "rouge", "retrieval"]   # leave out: every available metric
    limit = 20                         # first N cases of each golden file
    today = 2026-11-22                 # what "last year" means (the golden sets assume this)
    transforms = ["hyde"]              # query transforms: "multi_query", "hyde"; [] = off
    [model]
    model = "qwen2.5-coder-0.5b"
    n_threads = 1

Precedence (lowest first): these defaults < the TOML file < `--fast` < explicit CLI flags.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from assistant.llm.base import LLMConfigError
from assistant.llm.config import LLMConfig
from knowledge.errors import CairnError

DEMO_TODAY = dt.date(2026, 11, 22)  # evals/golden/README.md: "the demo's today is 2026-11-22"
FAST_MODEL = "qwen2.5-coder-0.5b"  # DESIGN.md §4: the fast/CI answer model
FAST_LIMIT = 10
JUDGE_OFF = "off"
JUDGE_SELF = "self"
TRANSFORM_NAMES = ("multi_query", "hyde")  # assistant/transforms.py TRANSFORMS
EXTRACT_MODES = ("rules", "llm", "hybrid")  # assistant/extract MODES
_ROLES = ("user", "clinician", "expert", "admin")  # assistant/roles.py ROLES
_RETRIEVAL_MODES = ("dense", "bm25", "hybrid")  # knowledge/config.py RETRIEVAL_MODES
_POLICIES = ("remove", "flag")  # assistant/answer.py POLICIES
# Settings that change no per-case result (only how many cases run, how fast, or how the
# summary resamples), so a resumed run may change them and keep what was already scored.
RESULT_NEUTRAL = ("limit", "tags", "workers", "bootstrap_b", "seed")


class EvalConfigError(CairnError):
    """A bad eval setting or config file; the message names the value and the fix."""


@dataclass(frozen=True)
class EvalConfig:
    """Fields:
        llm: the answer model (LLMConfig; TOML table [model]).
        role: whose questions they are; "clinician" may read the notes (assistant/roles.py).
        k: sources given to the model (None: the agent's 5 catalog items / 6 note sections).
        mode: retrieval mode, "hybrid" | "dense" | "bm25".
        verify / policy: run the citation verifier; "remove" or "flag" unsupported sentences.
        max_tokens: cap on each answer (None: the model's default).
        context_tokens: per-source budget of text tokens the answer model reads (the chat's
            default, assistant.agent.AgentConfig; None: every source whole).
        judge_evidence_tokens: the verifier's judge reads each cited passage focused on the
            claim within this many tokens (assistant.verify.VerifierConfig; None: whole).
        today: the date relative phrases resolve against (golden sets assume 2026-11-22).
        transforms: query transforms to enable ("multi_query", "hyde"); () = off. Default: HyDE,
            as the chat runs.
        collection_hint: pass each case's collection to the router (like `cairn ask -c`);
            off (default): the router decides per question, as in the chat.
        extract_mode: extract_note mode for extraction cases, "rules" | "llm" | "hybrid".
        judge: judge model for judge-based metrics: "self" (the answer model), "off" (judge
            metrics are skipped), or a catalogue name / model path loaded like the answer model.
        metrics: metric names to compute (None: every available one; see evals.runner).
        seed: bootstrap seed; also the model's sampling seed unless [model] sets `seed`.
        bootstrap_b: bootstrap replicates per interval (Efron & Tibshirani: 1000 for 95% CIs).
        limit: the first N cases of each golden file (None: all).
        tags: only cases carrying at least one of these tags (empty: all), before `limit`.
        workers: cases run concurrently (threads; generation itself is serialised).
    """

    llm: LLMConfig = field(default_factory=LLMConfig)
    role: str = "clinician"
    k: int | None = None
    mode: str = "hybrid"
    verify: bool = True
    policy: str = "remove"
    max_tokens: int | None = 256
    context_tokens: int | None = None
    judge_evidence_tokens: int | None = None
    today: dt.date = DEMO_TODAY
    transforms: tuple[str, ...] = ("hyde",)  # the chat's default (assistant.agent.AgentConfig)
    collection_hint: bool = False
    extract_mode: str = "hybrid"
    judge: str = JUDGE_SELF
    metrics: tuple[str, ...] | None = None
    seed: int = 0
    bootstrap_b: int = 1000
    limit: int | None = None
    tags: tuple[str, ...] = ()
    workers: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.llm, LLMConfig):
            raise EvalConfigError(f"llm={self.llm!r} must be an LLMConfig (TOML: a [model] table)")
        _choice("role", self.role, _ROLES)
        _choice("mode", self.mode, _RETRIEVAL_MODES)
        _choice("policy", self.policy, _POLICIES)
        _choice("extract_mode", self.extract_mode, EXTRACT_MODES)
        for name in ("verify", "collection_hint"):
            if not isinstance(getattr(self, name), bool):
                raise EvalConfigError(f"{name}={getattr(self, name)!r} must be true or false")
        _int_range("k", self.k, 1, 20, optional=True, why="sources the model reads")
        _int_range("max_tokens", self.max_tokens, 1, self.llm.n_ctx - 1, optional=True, why="tokens per answer")
        _int_range("context_tokens", self.context_tokens, 16, self.llm.n_ctx - 1, optional=True,
                   why="tokens of each source the model reads")
        _int_range("judge_evidence_tokens", self.judge_evidence_tokens, 16, self.llm.n_ctx - 1, optional=True,
                   why="tokens of each cited passage the judge reads")
        _int_range("seed", self.seed, 0, 2**63 - 1, why="any non-negative integer")
        _int_range("bootstrap_b", self.bootstrap_b, 100, 1_000_000,
                   why="fewer than 100 replicates give unstable interval ends; 1000 is usual")
        _int_range("limit", self.limit, 1, 10**9, optional=True, why="cases per golden file")
        _int_range("workers", self.workers, 1, 64, why="threads; generation is serialised, so 1-4 is plenty")
        if not isinstance(self.today, dt.date) or isinstance(self.today, dt.datetime):
            raise EvalConfigError(f"today={self.today!r} must be a date like 2026-11-22 (TOML: today = 2026-11-22)")
        _names("transforms", self.transforms, TRANSFORM_NAMES)
        _names("tags", self.tags, None)
        if self.metrics is not None:
            _names("metrics", self.metrics, None)
            if not self.metrics:
                raise EvalConfigError("metrics=[] computes nothing; leave `metrics` out for every available metric")
        if not isinstance(self.judge, str) or not self.judge.strip():
            raise EvalConfigError(f"judge={self.judge!r} must be 'self', 'off', or a model name or path")

    # --- building ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> EvalConfig:
        """A config from plain data (a parsed TOML file); unknown keys are an error."""
        data = dict(data)
        model = data.pop("model", {})
        if not isinstance(model, dict):
            raise EvalConfigError(f"{source}: `model` must be a table ([model] with LLMConfig fields), "
                                  f"got {model!r}; put the model name in it: [model] model = \"...\"")
        known = {f.name for f in fields(cls)} - {"llm"}
        _unknown(source, "", data, known)
        _unknown(source, "model.", model, {f.name for f in fields(LLMConfig)})
        for name in ("transforms", "metrics", "tags"):
            if isinstance(data.get(name), list):
                data[name] = tuple(data[name])
        if isinstance(data.get("today"), str):
            try:
                data["today"] = dt.date.fromisoformat(data["today"])
            except ValueError:
                raise EvalConfigError(f"{source}: today={data['today']!r} is not a date; write today = 2026-11-22")
        model.setdefault("seed", data.get("seed", 0))
        try:
            return cls(llm=LLMConfig(**model), **data)
        except LLMConfigError as exc:
            raise EvalConfigError(f"{source}: [model] {exc}") from exc
        except TypeError as exc:  # a wrongly typed value that a check compared before testing its type
            raise EvalConfigError(f"{source}: {exc}; check the value types against EvalConfig's fields") from exc

    def with_llm(self, **changes: Any) -> EvalConfig:
        """A copy with some LLMConfig fields changed (checked again)."""
        try:
            return replace(self, llm=replace(self.llm, **changes))
        except LLMConfigError as exc:
            raise EvalConfigError(str(exc)) from exc

    def fast(self) -> EvalConfig:
        """The CI profile (`--fast`): the smallest answer model, the first 10 cases of each golden
        file, the verifier on and judge metrics off."""
        return replace(self.with_llm(model=FAST_MODEL, adapter=None), limit=FAST_LIMIT, verify=True, judge=JUDGE_OFF)

    # --- recording -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["today"] = self.today.isoformat()
        data["transforms"] = list(self.transforms)
        data["metrics"] = list(self.metrics) if self.metrics is not None else None
        return data

    def config_hash(self) -> str:
        """sha256 (16 hex digits) of every setting that can change a per-case result; the
        RESULT_NEUTRAL ones (limit, workers, bootstrap_b, seed) are left out."""
        return hashlib.sha256(_canonical(self.result_dict()).encode()).hexdigest()[:16]

    def result_dict(self) -> dict[str, Any]:
        data = self.to_dict()
        for name in RESULT_NEUTRAL:
            data.pop(name)
        return data


def load_config(path: str | Path) -> EvalConfig:
    """Read an eval config from a TOML file (module docstring)."""
    path = Path(path)
    if not path.exists():
        raise EvalConfigError(f"eval config {path} does not exist; pass an existing .toml file or leave --config out")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise EvalConfigError(f"{path} is not valid TOML ({exc}); fix the file") from exc
    return EvalConfig.from_dict(data, source=str(path))


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """'key: old -> new' for every setting that differs (nested tables with dotted keys)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return lines


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EvalConfigError(f"{name}={value!r} is unknown; use one of {', '.join(choices)}")


def _int_range(name: str, value: Any, low: int, high: int, *, optional: bool = False, why: str) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EvalConfigError(f"{name}={value!r} must be an integer in {low}..{high} ({why})")


def _names(name: str, values: Any, allowed: tuple[str, ...] | None) -> None:
    if not isinstance(values, tuple) or not all(isinstance(v, str) and v.strip() for v in values):
        raise EvalConfigError(f"{name}={values!r} must be a list of names")
    if len(set(values)) != len(values):
        raise EvalConfigError(f"{name}={list(values)!r} repeats a name; list each once")
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise EvalConfigError(f"{name}: {bad} unknown; use any of {', '.join(allowed or ())}")


def _unknown(source: str, prefix: str, data: dict[str, Any], known: set[str]) -> None:
    extra = sorted(set(data) - known)
    if extra:
        raise EvalConfigError(f"{source}: unknown key {prefix}{extra[0]!r}"
                              f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}; "
                              f"known {'[model] ' if prefix else ''}keys: {', '.join(sorted(known))}")
