"""A nightly config over the agent tests' tiny world (tests/agent_world.py): one retrieval suite
and one agent suite on four golden cases, a scripted model whose replies a test can make worse
(to force a regression), and `run_world` that runs `run_nightly` with those injections."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from agent_world import GOLDEN_CASES, RAW, supported

from assistant.agent import Agent
from assistant.llm import FakeLLM
from evals.nightly.config import NightlyConfig, nightly_from_dict
from evals.nightly.outcome import NightlyOutcome
from evals.nightly.run import run_nightly
from evals.runner import agent_config

# The runner's golden cases, with markup in one question: the report must show it as text.
CASES = [{**c, "question": "podcasts about knitting <b>&amp; yarn</b>"} if c["id"] == "t-3" else c
         for c in GOLDEN_CASES]
# The prompt holds the sources too, so the cues are tried in an order no source can confuse.
GOOD = {"knitting": "I cannot find anything about knitting in the catalog.",
        "medications": "Azithromycin 500 mg PO daily was started [1].",
        "nurses": "Night Shift is a drama series about nurses in a city hospital [1].",
        "ocean": "Deep Blue is a documentary about the ocean [1]."}


def good_reply(messages) -> str:
    question = messages[-1]["content"].lower()
    return next((text for cue, text in GOOD.items() if cue in question), "I cannot answer that.")


def bad_reply(messages) -> str:
    """A broken model: refuses everything (refusal_correct and ROUGE-L collapse)."""
    return "I cannot answer that."


class WorldAgent(Agent):
    """`close` leaves the module's shared indexes open (run_eval closes its agent)."""

    def close(self) -> None:
        self._kbs.clear()


def agent_factory(kbs, reply=good_reply):
    def make(config) -> Agent:
        llm = FakeLLM(default=reply, logprob_tables=[supported()] * 200)
        return WorldAgent(llm, agent_config(config, verifier=RAW), open_kb=kbs.__getitem__)
    return make


def write_golden(folder: Path) -> Path:
    path = folder / "world_golden.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    return path


def world_data(folder: Path) -> dict[str, Any]:
    """The nightly.toml of the world, as parsed TOML (tests change parts of it)."""
    write_golden(folder)
    return {
        "name": "world", "history": "history.sqlite", "out": "runs", "worst_cases": 3,
        "eval": {"judge": "off", "bootstrap_b": 200},
        "gate": {"error_rate": {"max": 0.0}},
        "suites": {
            "world-retrieval": {"kind": "retrieval", "golden": ["world_golden.jsonl"],
                                "gate": {"ndcg@10": {"min": 0.2, "regression": True},
                                         "route_correct": {"min": 0.5}}},
            "world-qa": {"golden": ["world_golden.jsonl"],
                         "gate": {"refusal_correct": {"regression": True}, "rougeL_f": {"regression": True},
                                  "latency.qa.total_s.p95": {"max": 60.0}}},
        },
        "profiles": {"fast": {"suites": {"world-qa": {"limit": 2}}}},
    }


def world_config(folder: Path, data: dict[str, Any] | None = None, profile: str | None = None) -> NightlyConfig:
    return nightly_from_dict(data or world_data(folder), base=folder, source=str(folder / "nightly.toml"),
                             profile=profile)


def run_world(kbs, config: NightlyConfig, *, reply=good_reply, factory=None, **kwargs) -> NightlyOutcome:
    return run_nightly(config, agent_factory=factory or agent_factory(kbs, reply), extractor=None,
                       open_kb=kbs.__getitem__, progress=False, log=kwargs.pop("log", None) or io.StringIO(), **kwargs)
