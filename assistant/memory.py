"""Conversation memory: the turns of one chat, and how a follow-up question is read against
them ("documentaries about the ocean" → "and which of those are from 2023?").

A small model cannot be trusted to rewrite a follow-up into a standalone question (it drops
or invents constraints), so the rewrite is done on the typed plan instead:

    refers back   "those / these / them / of those / which of / the second one / it"
                  → the new question is about the previous turn's sources: their ids become
                    a doc_id filter, the previous search text is kept unless the new question
                    brings its own, and the new filters narrow (a field named again replaces
                    the old value, others are kept).
    elliptical    no search words left after the filters ("what about in French?", "and from
                  2023?") → the previous search text and filters are kept and the new ones
                    override field by field; the result set is NOT restricted to the earlier
                    sources (the user changed a constraint, not the set).
    ordinal       "the second one", "the first", "number 3" → that source of the previous
                    turn (the agent fetches it with get_item).
    otherwise     a new topic: the plan stands as parsed.

The history given to the answer model is the last `AgentConfig.history_turns` question/answer
pairs (the one knob for it), so the prompt stays short on a CPU.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.query import QueryPlan, Span

_REFERS_BACK = re.compile(r"\b(?:those|these|them|of (?:the|these|those) (?:ones|results|items)|which of|"
                          r"the (?:ones?|same)|any of|it|its|that one|this one)\b", re.IGNORECASE)
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10, "last": -1}
# "last" needs its noun: "the last year" is a time phrase, "the last one" a pick.
_ORDINAL = re.compile(rf"\b(?:the\s+)?({'|'.join(k for k in _ORDINALS if k != 'last')}|last(?=\s+(?:one|item|result)))"
                      r"(?:\s+(?:one|item|result|source|note))?\b|(?:\bnumber\s*|#)(\d+)\b", re.IGNORECASE)
# Words that stay in a follow-up's search text without being a topic of their own.
_FILLER = re.compile(r"\b(?:and|or|but|so|what|which|about|are|is|were|was|of|those|these|them|ones?|any|"
                     r"from|only|just|the|show|me|how|with|more|please|it|its|that|this|like|also|tell|"
                     r"give|details?|describe|info(?:rmation)?)\b",
                     re.IGNORECASE)


@dataclass(frozen=True)
class Turn:
    """One exchange: what was asked, the plan it ran with, what was answered, and the ids of
    the sources shown (in source order, so "the second one" means source [2])."""

    question: str
    plan: QueryPlan
    answer: str
    source_ids: tuple[str, ...] = ()
    refused: bool = False


@dataclass(frozen=True)
class Resolution:
    """How a question was read against the conversation. kind: "new" | "refers_back" |
    "elliptical" | "ordinal"; pick: the doc id an ordinal points at."""

    plan: QueryPlan
    kind: str
    pick: str | None = None


@dataclass
class Conversation:
    """The memory of one chat session (the CLI's REPL, one UI session)."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, turn: Turn) -> None:
        self.turns.append(turn)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def history(self, turns: int) -> list[dict[str, str]]:
        """The last `turns` exchanges as chat messages for the answer model (0: none)."""
        if turns < 0:
            raise ValueError(f"turns={turns} must be >= 0 (0: no history sent to the model)")
        messages: list[dict[str, str]] = []
        for turn in self.turns[-turns:] if turns else []:
            messages += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}]
        return messages

    def resolve(self, plan: QueryPlan) -> Resolution:
        return resolve(plan, self.last)


def topic_words(text: str) -> str:
    """The search text minus follow-up filler: "those are" -> ""."""
    return " ".join(_FILLER.sub(" ", text).split())


def ordinal_pick(question: str, source_ids: tuple[str, ...]) -> str | None:
    """The source an ordinal names ("the second one" → source_ids[1]); None if none or out of range."""
    m = _ORDINAL.search(question)
    if not m or not source_ids:
        return None
    n = _ORDINALS[m.group(1).lower()] if m.group(1) else int(m.group(2))
    index = len(source_ids) - 1 if n == -1 else n - 1
    return source_ids[index] if 0 <= index < len(source_ids) else None


def resolve(plan: QueryPlan, last: Turn | None) -> Resolution:
    """Read `plan` against the previous turn (module docstring). Pure: same inputs, same result."""
    if last is None or plan.route == "chitchat" or last.plan.route == "chitchat" or plan.lookup:
        return Resolution(plan, "new")
    same_route = plan.route == last.plan.route
    own_topic = topic_words(plan.search_text)
    refers = bool(_REFERS_BACK.search(plan.question))
    # "tell me about the second one": once the ordinal is taken out, nothing of a topic is left.
    ordinal_only = not topic_words(_ORDINAL.sub(" ", plan.search_text))
    pick = ordinal_pick(plan.question, last.source_ids) if refers or ordinal_only else None
    if pick is not None:
        return Resolution(replace(plan, route=last.plan.route), "ordinal", pick)
    if refers and last.source_ids and (same_route or not own_topic):
        filters = {**last.plan.filters, **plan.filters, "doc_id": list(last.source_ids)}
        merged = _merged(plan, last, filters, own_topic, "the previous answer's sources")
        return Resolution(merged, "refers_back")
    if not own_topic and (plan.filters or refers):
        filters = {**last.plan.filters, **plan.filters}
        return Resolution(_merged(plan, last, filters, own_topic, "the previous question's topic"), "elliptical")
    return Resolution(plan, "new")


def _merged(plan: QueryPlan, last: Turn, filters: dict[str, Any], own_topic: str, why: str) -> QueryPlan:
    search_text = own_topic or last.plan.search_text
    span = Span(plan.question, (0, len(plan.question)), f"follow-up: kept {why} ({last.plan.query!r})")
    return replace(plan, route=last.plan.route, filters=filters, search_text=search_text,
                   spans=(*plan.spans, span))
