"""Blind pairwise comparison for human graders: two systems' answers to the same question shown
as "A" and "B" in a random order, the grader's pick mapped back to the systems.

    make_blind_pair(question, first, second, seed=7)
        rng = Random(7); swapped = rng.random() < 0.5
        swapped=False:  A = first,  B = second
        swapped=True:   A = second, B = first
    resolve(pair, "a") -> Outcome(winner=<system shown as A>, loser=<system shown as B>)

Why randomise: people (like LLM judges, Zheng et al. 2023 §3.3) favour a position; with a fair
coin per pair a position preference spreads evenly over both systems instead of adding to one.
The seed and the flag are stored with the verdict, so the order any grader saw can be rebuilt
and an audit can check that "A" won about as often as the coin put each system there.

The grader is shown `BlindPair.shown()`: the question and the two answers (and their sources),
never the system names.
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any

from .records import (
    PICKS,
    GradingError,
    Passage,
    check_collection,
    check_text,
    passages,
)


@dataclass(frozen=True)
class Candidate:
    """One system's answer to the question (item_id: the graded Item it came from, if any)."""

    system: str
    answer: str
    item_id: int | None = None
    contexts: tuple[Passage, ...] = ()

    def __post_init__(self) -> None:
        check_text(self.system, "candidate system")
        check_text(self.answer, "candidate answer")
        object.__setattr__(self, "contexts", passages(self.contexts))


@dataclass(frozen=True)
class BlindPair:
    """Two candidates in the order shown: `a` is shown as "A", `b` as "B".

    Fields:
        question / collection: what both answered.
        a / b: the candidates as shown.
        seed: the seed that chose the order. swapped: True when the second candidate given to
            `make_blind_pair` is shown as A.
    """

    question: str
    collection: str
    a: Candidate
    b: Candidate
    seed: int
    swapped: bool

    def __post_init__(self) -> None:
        check_text(self.question, "question")
        check_collection(self.collection)
        if self.a.system == self.b.system:
            raise GradingError(f"both answers come from system {self.a.system!r}; compare two different systems")

    def shown(self) -> dict[str, Any]:
        """Exactly what the grader sees (and what is stored with the verdict): no system names."""
        return {"question": self.question, "collection": self.collection,
                "answer_a": self.a.answer, "answer_b": self.b.answer,
                "sources_a": [p.to_json() for p in self.a.contexts],
                "sources_b": [p.to_json() for p in self.b.contexts]}


@dataclass(frozen=True)
class Outcome:
    """A pick mapped back to systems: winner/loser are None for a tie."""

    pick: str
    winner: str | None
    loser: str | None


def coin(seed: int) -> bool:
    """The seeded coin that decides the order: True means swap (second candidate shown as A)."""
    return random.Random(seed).random() < 0.5


def make_blind_pair(question: str, first: Candidate, second: Candidate, *, collection: str,
                    seed: int | None = None) -> BlindPair:
    """Show `first` and `second` in a random order. `seed` None draws a fresh one (recorded in
    the pair); pass a seed to rebuild an order."""
    if seed is None:
        seed = secrets.randbits(32)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GradingError(f"seed={seed!r} must be a whole number >= 0 (or None for a fresh one)")
    swapped = coin(seed)
    a, b = (second, first) if swapped else (first, second)
    return BlindPair(question=question, collection=collection, a=a, b=b, seed=seed, swapped=swapped)


def resolve(pair: BlindPair, pick: str) -> Outcome:
    """Map the grader's pick ("a", "b" or "tie", in shown labels) back to the systems."""
    pick = pick.strip().lower() if isinstance(pick, str) else pick
    if pick not in PICKS:
        raise GradingError(f"pick {pick!r} is not one of {', '.join(PICKS)}; pick the better shown answer, or tie")
    if pick == "tie":
        return Outcome("tie", None, None)
    winner, loser = (pair.a, pair.b) if pick == "a" else (pair.b, pair.a)
    return Outcome(pick, winner.system, loser.system)


def unswap(pair: BlindPair) -> tuple[Candidate, Candidate]:
    """The candidates in the order they were given to `make_blind_pair` (first, second)."""
    return (pair.b, pair.a) if pair.swapped else (pair.a, pair.b)
