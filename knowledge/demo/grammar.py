"""A tiny template grammar for generated text: `{slot}` fills from bindings, `[a|b|c]` picks one
alternative, and sentences are tidied afterwards (capitals, "a"/"an", spacing).

Templates are compiled once into token lists, so expanding one costs a handful of list
operations (the catalog builder expands thousands; the scale generator pre-expands sentence
pools with it). All randomness comes from the `random.Random` passed in, which keeps every
output reproducible from its seed.

    >>> rng = random.Random(0)
    >>> render("[a|the] {thing} [glows|hums].", {"thing": ["lamp", "owl"]}, rng)
    'The owl glows.'
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence, Union

Binding = Union[str, Sequence[str]]

_TOKEN = re.compile(r"\{([a-z_0-9]+)\}|\[([^\[\]]*)\]")


@dataclass(frozen=True)
class _Choice:
    options: tuple["Template", ...]


@dataclass(frozen=True)
class _Slot:
    name: str


Part = Union[str, _Slot, _Choice]
Template = tuple[Part, ...]


@lru_cache(maxsize=None)
def compile_template(text: str) -> Template:
    """Split a template into literals, slots and choices (choices may contain slots)."""
    parts: list[Part] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            parts.append(text[pos:match.start()])
        slot, choice = match.groups()
        if slot is not None:
            parts.append(_Slot(slot))
        else:
            parts.append(_Choice(tuple(compile_template(option) for option in choice.split("|"))))
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


class Deck:
    """Draws from a list without repeating until it is used up, so that one description that
    mentions {phrase} three times says three different things."""

    def __init__(self, options: Sequence[str], rng: random.Random) -> None:
        self._options = list(options)
        self._rng = rng
        self._left: list[str] = []

    def draw(self) -> str:
        if not self._left:
            self._left = self._options[:]
            self._rng.shuffle(self._left)
        return self._left.pop()


def _expand(template: Template, decks: Mapping[str, Deck], rng: random.Random, out: list[str]) -> None:
    for part in template:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, _Slot):
            deck = decks.get(part.name)
            if deck is None:
                raise KeyError(f"template slot {{{part.name}}} has no binding; bound: {sorted(decks)}")
            _expand(compile_template(deck.draw()), decks, rng, out)
        else:
            _expand(part.options[rng.randrange(len(part.options))], decks, rng, out)


def make_decks(bindings: Mapping[str, Binding], rng: random.Random) -> dict[str, Deck]:
    return {name: Deck([value] if isinstance(value, str) else value, rng) for name, value in bindings.items()}


def expand(text: str, decks: Mapping[str, Deck], rng: random.Random) -> str:
    """Expand one template against already-made decks (bound values may hold templates too)."""
    out: list[str] = []
    _expand(compile_template(text), decks, rng, out)
    return "".join(out)


_AN = re.compile(r"\b([Aa]) (?=(?:[aeiouAEIOU]|hour|honest|heir)(?!ni|ser|sua|sing|ropea|ne-|nce))")
# Only plain spaces: French puts a no-break space (U+00A0) before ":" on purpose.
_SPACES = re.compile(r"[ \t\n]+([,.;:!?])|[ \t\n]{2,}")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def tidy(text: str) -> str:
    """Fix what template joins break: double spaces, space before punctuation, "a apple",
    lower-case sentence starts."""
    text = _SPACES.sub(lambda m: m.group(1) or " ", text).strip()
    text = _AN.sub(lambda m: m.group(1) + "n ", text)
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def render(text: str, bindings: Mapping[str, Binding], rng: random.Random) -> str:
    return tidy(expand(text, make_decks(bindings, rng), rng))
