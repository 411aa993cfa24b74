"""Synthetic catalog items at benchmark scale (up to 200,000 and beyond) in the catalog schema,
for ingest and query benchmarks.

Speed comes from doing the grammar work once: for every topic or premise and every item type,
a pool of sentences is expanded up front with placeholders (sentinels) left where per-item
values go: title, creator, lead, setting, cast, minutes, year, seasons. Making an item is
then a few seeded choices, a join and a handful of `str.replace` calls (200k items take
about ten seconds on one core). Titles are not unique at this scale, as in a real catalog with remakes.

    >>> items = list(generate_items(3, seed=1))
    >>> [item["id"] for item in items]
    ['syn_000001', 'syn_000002', 'syn_000003']
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from .authored import COUNT_WORDS, DURATIONS, PART_WORDS, release_date, shooting_place
from .catalog import FIELD_ORDER
from .grammar import expand, make_decks, tidy
from .jsonl import write_jsonl
from .names import LANGUAGES
from .templates import (ARTICLE, DOCUMENTARY, DOCUSERIES, FESTIVALS, FILM, GENRE_NOUNS, LANGUAGE_NOTES, PODCAST,
                        SERIES, SPANS, TONES, WEEKDAYS, Templates)
from .topics import Premise, Topic, all_premises, all_topics

TYPE_WEIGHTS = {"film": 0.35, "series": 0.2, "documentary": 0.15, "podcast": 0.15, "article": 0.15}
MIN_WORDS, MAX_WORDS = 30, 120
POOL_SIZE = {"opening": 12, "closing": 8}
BODY_VARIANTS = 5  # expansions kept per body template
RECENT_SHARE = 0.15
# Sentinels: control characters never produced by the banks, swapped for per-item values.
S = {name: f"\x00{i}\x00" for i, name in enumerate(
    ("title", "creator", "lead", "setting", "place", "minutes", "year", "seasons", "episodes", "parts",
     "cast_a", "cast_b", "cast_c", "cast_pair"))}


@dataclass(frozen=True)
class _Sentence:
    """A pre-expanded sentence and the bank phrases it uses (so that one item never says the
    same thing twice: two sentences sharing a marker are not combined)."""

    text: str
    markers: frozenset[str]


@dataclass(frozen=True)
class _Pool:
    """Pre-expanded sentences for one (subject, type); `body` is grouped by template, so that an
    item never uses the same sentence frame twice."""

    subject: Topic | Premise
    item_type: str
    opening: tuple[_Sentence, ...]
    body: tuple[tuple[_Sentence, ...], ...]
    closing: tuple[_Sentence, ...]


def _sentences(rng: random.Random, templates: tuple[str, ...], bindings: dict[str, Any],
               count: int) -> tuple[_Sentence, ...]:
    decks = make_decks(bindings, rng)
    phrases = [v for value in bindings.values() if isinstance(value, list) for v in value]
    texts = dict.fromkeys(tidy(expand(rng.choice(templates), decks, rng)) for _ in range(count))
    return tuple(_Sentence(t, frozenset(p for p in phrases if p in t)) for t in texts)


def _pool(rng: random.Random, subject: Topic | Premise, item_type: str, templates: Templates) -> _Pool:
    common: dict[str, Any] = {
        "title": S["title"], "creator": S["creator"], "minutes": S["minutes"], "year": S["year"],
        "seasons": S["seasons"], "episodes": S["episodes"], "parts": S["parts"], "festival": FESTIVALS[0],
        "weekday": WEEKDAYS[0], "span": SPANS[0]}
    if isinstance(subject, Topic):
        common.update(phrase=list(subject.phrases), sight=list(subject.sights), people=list(subject.people),
                      question=list(subject.questions), place=rng.choice(subject.places),
                      tone=rng.choice(TONES["nonfiction"]))
    else:
        common.update(lead=S["lead"], setting=S["setting"], place=S["place"], goal=list(subject.goals),
                      turn=list(subject.turns), texture=list(subject.texture),
                      tone=rng.choice(TONES.get(subject.genres[0], TONES["drama"])),
                      genre_noun=GENRE_NOUNS.get(subject.genres[0], "drama"), cast_lead=S["cast_a"],
                      cast_support=S["cast_b"] if item_type == "film" else S["cast_c"], cast_pair=S["cast_pair"])
    body = tuple(_sentences(rng, (template,), common, BODY_VARIANTS) for template in templates.body)
    return _Pool(subject, item_type, _sentences(rng, templates.opening, common, POOL_SIZE["opening"]), body,
                 _sentences(rng, templates.closing, common, POOL_SIZE["closing"]))


@lru_cache(maxsize=4)
def _pools(seed: int) -> dict[str, tuple[_Pool, ...]]:
    rng = random.Random(f"{seed}:scale-pools")
    topics, premises = all_topics(), all_premises()
    nonfiction = {"documentary": DOCUMENTARY, "podcast": PODCAST, "article": ARTICLE}
    pools: dict[str, tuple[_Pool, ...]] = {
        item_type: tuple(_pool(rng, t, item_type, templates) for t in topics)
        for item_type, templates in nonfiction.items()}
    pools["docuseries"] = tuple(_pool(rng, t, "series", DOCUSERIES) for t in topics)
    pools["series"] = tuple(_pool(rng, p, "series", SERIES) for p in premises)
    pools["film"] = tuple(_pool(rng, p, "film", FILM) for p in premises)
    return pools


def _language_notes(seed: int) -> dict[tuple[str, str], tuple[str, ...]]:
    rng = random.Random(f"{seed}:scale-notes")
    media = {"podcast": "podcast", "article": "article"}
    return {(lang.code, item_type): tuple(s.text for s in _sentences(
                rng, (LANGUAGE_NOTES[media.get(item_type, "screen")],), {"language": lang.name}, 4))
            for lang in LANGUAGES if lang.code != "en" for item_type in TYPE_WEIGHTS}


def _title(rng: random.Random, subject: Topic | Premise) -> str:
    fragment = rng.choice(subject.titles)
    place = rng.choice(subject.places) if isinstance(subject, Topic) else None
    roll = rng.random()
    if roll < 0.55 or place is None and roll < 0.8:
        return fragment
    if place is not None and roll < 0.8:
        return f"{fragment}: {place}"
    return f"{fragment} {rng.choice(('II', 'III', 'Returns', 'Redux', 'Again', 'After Dark'))}"


def _pick(rng: random.Random, options: tuple[_Sentence, ...], used: set[str]) -> _Sentence | None:
    """A random option that repeats none of the phrases already used, or None."""
    start = rng.randrange(len(options))
    for k in range(len(options)):
        option = options[(start + k) % len(options)]
        if not option.markers & used:
            return option
    return None


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace(S[name], value)
    return text


def _assemble(rng: random.Random, pool: _Pool, values: dict[str, str], note: str | None) -> str:
    """Opening, 2-5 body sentences from different frames, maybe a closing and a language note,
    kept within 30-120 words."""
    opening = rng.choice(pool.opening)
    used = set(opening.markers)
    parts = [_fill(opening.text, values)]
    frames = list(range(len(pool.body)))
    rng.shuffle(frames)
    wanted = rng.randint(2, 5)
    words = len(parts[0].split())
    for frame in frames:
        if len(parts) > wanted and words >= MIN_WORDS:
            break
        sentence = _pick(rng, pool.body[frame], used)
        if sentence is None:
            continue
        used |= sentence.markers
        parts.append(_fill(sentence.text, values))
        words += len(parts[-1].split())
    closing = _pick(rng, pool.closing, used) if rng.random() < 0.75 else None
    if closing is not None:
        parts.append(_fill(closing.text, values))
    if note:
        parts.insert(rng.randint(1, len(parts)), note)
    while len(parts) > 2 and sum(len(p.split()) for p in parts) > MAX_WORDS:
        parts.pop(-2)  # drop body sentences from the end, keep the last one (a closing or a note)
    return " ".join(parts)


def generate_items(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """`n` synthetic catalog items, ids syn_000001.., the same for the same (n, seed)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    pools = _pools(seed)
    notes = _language_notes(seed)
    rng = random.Random(f"{seed}:scale-items")
    types, type_weights = zip(*TYPE_WEIGHTS.items())
    lang_weights = [lang.weight for lang in LANGUAGES]
    width = max(6, len(str(n)))
    for number in range(1, n + 1):
        item_type = rng.choices(types, type_weights)[0]
        docuseries = item_type == "series" and rng.random() < 0.15
        pool = rng.choice(pools["docuseries" if docuseries else item_type])
        subject = pool.subject
        language = rng.choices(LANGUAGES, lang_weights)[0]
        released = release_date(rng, item_type, RECENT_SHARE, subject.earliest)
        low, high = DURATIONS[item_type]
        creator = language.person(rng)
        item: dict[str, Any] = {
            "id": f"syn_{number:0{width}d}", "title": _title(rng, subject), "type": item_type,
            "year": released.year, "released": released.isoformat(), "language": language.code,
            "duration_min": rng.randint(low, high), "creators": [creator],
            "genres": sorted(set(subject.genres) | ({"documentary"} if item_type == "documentary" or docuseries
                                                     else set())),
            "topics": [subject.name], "source": "synthetic",
        }
        if item_type != "article":
            item["rating"] = round(rng.uniform(4.5, 9.3), 1)
        values = {"title": item["title"], "creator": creator, "minutes": str(item["duration_min"]),
                  "year": str(item["year"])}
        if isinstance(subject, Premise):
            cast = [language.person(rng) for _ in range(3)]
            item["cast"] = cast
            setting = rng.choice(subject.settings)
            values.update(lead=rng.choice(subject.leads), setting=setting, cast_a=cast[0], cast_b=cast[1],
                          cast_c=cast[2], cast_pair=f"{cast[0]} and {cast[1]}",
                          place=shooting_place(rng, setting))
        if item_type == "series":
            seasons = 1 if docuseries else rng.choice((1, 1, 2, 3, 4, 6))
            parts = rng.choice(sorted(PART_WORDS))
            episodes = PART_WORDS[parts] if docuseries else seasons * rng.randint(6, 12)
            item.update(seasons=seasons, episodes=episodes)
            values.update(seasons=COUNT_WORDS[seasons - 1], episodes=str(episodes), parts=parts)
        note = rng.choice(notes[(language.code, item_type)]) if language.code != "en" else None
        item["description"] = _assemble(rng, pool, values, note)
        yield item


def write_items(path: Path, n: int, seed: int = 0, progress: Callable[[int], None] | None = None) -> int:
    """Write `n` items as JSONL; `progress(k)` is told about every k items written (tqdm.update)."""
    return write_jsonl(path, generate_items(n, seed), FIELD_ORDER, progress=progress)


__all__ = ["generate_items", "write_items", "TYPE_WEIGHTS", "MIN_WORDS", "MAX_WORDS"]
