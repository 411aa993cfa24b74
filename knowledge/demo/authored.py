"""Generated catalog items: series, documentaries, podcasts, articles and films composed from
the topic and premise banks (`topics*.py`, `premises.py`) with the sentence templates
(`templates.py`).

Each item records `topics`: its primary topic first, then a secondary one when its text
also touches on a related subject. The golden retrieval set derives its relevance
judgments from these fields and from the typed metadata, never from the text.

Randomness: one `random.Random` per item type, seeded from (seed, type), so changing how many
podcasts are made leaves every series unchanged.
"""
from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from . import DEFAULT_SEED, LAST_YEAR_START, TODAY
from .films import normalise_title
from .grammar import expand, make_decks, tidy
from .names import LANGUAGE_BY_CODE, Language, people, pick_language
from .templates import (ARTICLE, DOCUMENTARY, DOCUSERIES, FESTIVALS, FILM, GENRE_NOUNS, LANGUAGE_NOTES, PODCAST,
                        SECONDARY, SERIES, SPANS, TONES, TRANSLATED, TRANSLATED_TITLES, WEEKDAYS, Templates)
from .topics import Premise, Topic, all_premises, all_topics

NONFICTION_TYPES = ("documentary", "podcast", "article")
# First and last year each type is drawn from (before the share forced into the recent window).
YEAR_RANGES: dict[str, tuple[int, int]] = {
    "film": (1950, 2024), "series": (1955, 2024), "documentary": (1955, 2024),
    "podcast": (2005, 2024), "article": (1965, 2024),
}
# Minutes: a film's running time, a series episode, a podcast episode, an article's reading time.
DURATIONS: dict[str, tuple[int, int]] = {
    "film": (78, 155), "series": (22, 60), "documentary": (52, 118), "podcast": (15, 90), "article": (4, 28),
}
COUNT_WORDS = ("a single season", "two seasons", "three seasons", "four seasons", "five seasons", "six seasons",
               "seven seasons", "eight seasons")
PART_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "eight": 8}
TITLE_SUFFIXES = ("Nights", "Blues", "Club", "Diaries", "Rising", "Road")


Window = tuple[dt.date, dt.date]
RECENT: Window = (LAST_YEAR_START, TODAY)
# Released in 2025 but before the last-year window: near misses for "from the last year".
EARLIER: Window = (dt.date(2025, 1, 1), LAST_YEAR_START - dt.timedelta(days=1))


@dataclass(frozen=True)
class Spotlight:
    """Items made on purpose before the random ones: `recent` of them released in the last year
    (2025-11-22..2026-11-22), `earlier` in 2025 just before it. They guarantee that questions
    like "documentaries about climate change from the last year" have answers and near misses."""

    item_type: str
    subject: str       # a topic or premise name
    recent: int
    earlier: int = 0


SPOTLIGHTS: tuple[Spotlight, ...] = (
    Spotlight("documentary", "climate change", recent=4, earlier=2),
    Spotlight("podcast", "climate change", recent=2, earlier=1),
    Spotlight("article", "artificial intelligence", recent=2, earlier=1),
    Spotlight("documentary", "ocean life", recent=1),
    Spotlight("series", "tech start-up", recent=1, earlier=1),
    Spotlight("film", "haunted house", recent=1),
)


@dataclass(frozen=True)
class AuthoredConfig:
    """How many items of each type to generate, and how they are spread.

    recent_share:     fraction released between 2025-01-01 and TODAY (for "last year" questions)
    docuseries_share: fraction of series that are documentary series built from a topic
    secondary_share:  fraction of non-fiction items that also touch on a related topic
    translated_share: fraction of French/Spanish podcasts and articles described in that language
    """

    seed: int = DEFAULT_SEED
    series: int = 185
    documentary: int = 165
    podcast: int = 180
    article: int = 180
    film: int = 125
    recent_share: float = 0.28
    docuseries_share: float = 0.15
    secondary_share: float = 0.3
    translated_share: float = 0.7
    spotlights: tuple[Spotlight, ...] = SPOTLIGHTS

    def __post_init__(self) -> None:
        for name in ("series", "documentary", "podcast", "article", "film"):
            if getattr(self, name) < 0:
                raise ValueError(f"AuthoredConfig.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("recent_share", "docuseries_share", "secondary_share", "translated_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"AuthoredConfig.{name} must be in [0, 1], got {getattr(self, name)}")

    def count(self, item_type: str) -> int:
        return int(getattr(self, item_type))


class TitleRegistry:
    """Titles already in the catalog (normalised), so that every title names one item and
    "lookup by title" questions have exactly one right answer."""

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._taken = {normalise_title(t) for t in existing}

    def claim(self, candidates: Iterable[str]) -> str:
        last = ""
        for candidate in candidates:
            last = candidate
            if normalise_title(candidate) not in self._taken:
                self._taken.add(normalise_title(candidate))
                return candidate
        for numeral in ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"):
            numbered = f"{last} {numeral}"
            if normalise_title(numbered) not in self._taken:
                self._taken.add(normalise_title(numbered))
                return numbered
        raise ValueError(f"ran out of titles around {last!r}; add title fragments to its topic or premise")


def release_date(rng: random.Random, item_type: str, recent_share: float, earliest: int = 1950,
                 window: Window | None = None) -> dt.date:
    """A release date: inside `window` when one is given; otherwise `recent_share` of items fall
    between 2025-01-01 and TODAY and the rest lean towards recent years (triangular
    distribution with its mode at the end of the range)."""
    if window is not None:
        return window[0] + dt.timedelta(days=rng.randrange((window[1] - window[0]).days + 1))
    if rng.random() < recent_share:
        start = dt.date(2025, 1, 1)
        return start + dt.timedelta(days=rng.randrange((TODAY - start).days + 1))
    first, last = YEAR_RANGES[item_type]
    first = min(max(first, earliest), last)
    year = min(last, int(rng.triangular(first, last + 1, last + 1)))
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


def _weighted(rng: random.Random, options: tuple[Any, ...]) -> Any:
    return rng.choices(options, weights=[o.weight for o in options])[0]


def _describe(rng: random.Random, templates: Templates, bindings: dict[str, Any], extra: list[str] | None = None,
              closing_p: float = 0.8) -> str:
    """Opening, two or three shuffled body sentences (plus any extra), usually a closing."""
    decks = make_decks(bindings, rng)
    body = rng.sample(templates.body, min(len(templates.body), rng.choice((2, 2, 3))))
    sentences = [expand(t, decks, rng) for t in body]
    for sentence in extra or []:
        sentences.insert(rng.randrange(len(sentences) + 1), expand(sentence, decks, rng))
    parts = [expand(rng.choice(templates.opening), decks, rng), *sentences]
    if rng.random() < closing_p:
        parts.append(expand(rng.choice(templates.closing), decks, rng))
    return tidy(" ".join(parts))


def _bare(title: str) -> str:
    return title[4:] if title.startswith("The ") else title


def _english_titles(rng: random.Random, fragments: tuple[str, ...], patterns: tuple[str, ...],
                    fill: dict[str, str]) -> Iterator[str]:
    """Candidate titles: every fragment in every pattern, in a seeded order."""
    shuffled = list(fragments)
    rng.shuffle(shuffled)
    for pattern in patterns:
        for fragment in shuffled:
            yield pattern.format(t=fragment, b=_bare(fragment), **fill)


class _Generator:
    """Holds the banks, the title registry and the config while items are made."""

    def __init__(self, config: AuthoredConfig, titles: TitleRegistry) -> None:
        self.config = config
        self.titles = titles
        self.topics = all_topics()
        self.topic_by_name = {t.name: t for t in self.topics}
        self.premises = all_premises()

    # --- shared pieces -------------------------------------------------------------------

    def _base(self, rng: random.Random, item_type: str, language: Language, n_creators: int,
              earliest: int, window: Window | None) -> dict[str, Any]:
        released = release_date(rng, item_type, self.config.recent_share, earliest, window)
        low, high = DURATIONS[item_type]
        return {"type": item_type, "year": released.year, "released": released.isoformat(),
                "language": language.code, "creators": people(rng, language, n_creators),
                "duration_min": rng.randint(low, high), "source": "generated"}

    def _title(self, rng: random.Random, language: Language, english: Iterator[str]) -> str:
        native = list(language.titles)
        rng.shuffle(native)
        # Most non-English items carry an original-language title; the rest an English one.
        candidates = native if native and rng.random() < 0.75 else []
        return self.titles.claim([*candidates, *english])

    def _common_bindings(self, rng: random.Random, item: dict[str, Any], tone_key: str) -> dict[str, Any]:
        return {"title": item["title"], "creator": item["creators"], "minutes": str(item["duration_min"]),
                "year": str(item["year"]), "tone": TONES.get(tone_key, TONES["drama"]),
                "festival": FESTIVALS, "weekday": WEEKDAYS, "span": SPANS,
                "language": LANGUAGE_BY_CODE[item["language"]].name}

    def _language_note(self, item: dict[str, Any], translated: bool) -> list[str]:
        if item["language"] == "en" or translated:
            return []
        return [LANGUAGE_NOTES.get(item["type"], LANGUAGE_NOTES["screen"])]

    # --- non-fiction ---------------------------------------------------------------------

    def nonfiction(self, rng: random.Random, item_type: str, docuseries: bool = False, subject: str | None = None,
                   window: Window | None = None) -> dict[str, Any]:
        language = pick_language(rng)
        pool = (self.topic_by_name[subject],) if subject else self.topics
        wants_translation = (item_type in ("podcast", "article") and language.code in ("fr", "es")
                             and rng.random() < self.config.translated_share)
        translatable = tuple(t for t in pool if getattr(t, language.code, ()))
        translated = wants_translation and bool(translatable)
        if translated:
            pool = translatable
        topic: Topic = _weighted(rng, pool)
        item = self._base(rng, "series" if docuseries else item_type, language, 1 + (rng.random() < 0.25),
                          topic.earliest, window)
        topics = [topic.name]
        extra: list[str] = []
        related = [self.topic_by_name[name] for name in topic.related if name in self.topic_by_name]
        if related and not translated and rng.random() < self.config.secondary_share:
            secondary = rng.choice(related)
            topics.append(secondary.name)
            extra.append(rng.choice(SECONDARY))
        place = rng.choice(topic.places)  # one place per item: its title and its text must agree
        phrases: tuple[str, ...] = getattr(topic, language.code) if translated else topic.phrases
        if translated:
            patterns = TRANSLATED_TITLES[language.code]
            item["title"] = self.titles.claim(p.format(phrase=ph) for p in patterns for ph in phrases)
        else:
            english = self._nonfiction_titles(rng, item_type, docuseries, topic, place)
            item["title"] = self._title(rng, language, english)
        bindings = self._common_bindings(rng, item, "nonfiction")
        bindings.update(phrase=list(phrases), sight=list(topic.sights), people=list(topic.people),
                        question=list(topic.questions), place=place)
        if len(topics) > 1:
            bindings["phrase2"] = list(self.topic_by_name[topics[1]].phrases)
        if docuseries:
            parts = rng.choice(sorted(PART_WORDS))
            item.update(seasons=1, episodes=PART_WORDS[parts])
            bindings.update(parts=parts, episodes=str(item["episodes"]), seasons=COUNT_WORDS[0])
            templates = DOCUSERIES
        else:
            templates = TRANSLATED[(item_type, language.code)] if translated else _NONFICTION_TEMPLATES[item_type]
        extra += self._language_note(item, translated)
        item["description"] = _describe(rng, templates, bindings, extra)
        genres = set(topic.genres) | ({"documentary"} if item_type == "documentary" or docuseries else set())
        item.update(genres=sorted(genres), topics=topics, rating=round(rng.uniform(5.5, 9.2), 1))
        if item_type == "article":
            del item["rating"]  # articles are read, not rated
        return item

    def _nonfiction_titles(self, rng: random.Random, item_type: str, docuseries: bool, topic: Topic,
                           place: str) -> Iterator[str]:
        if docuseries:
            patterns: tuple[str, ...] = ("{t}", "{t}: The Series", "Inside {b}")
        elif item_type == "documentary":
            patterns = ("{t}", "{t}: A Year in {place}", "{t}: Voices from {place}", "{t}: Notes from {place}")
        elif item_type == "podcast":
            patterns = ("{t}", "The {b} Podcast", "{b} Radio", "{b} Weekly", "Talking {b}")
        else:
            # "How ..." and "Why ..." read as headlines; "Whether ..." does not.
            questions = [q[0].upper() + q[1:] for q in topic.questions if q.split()[0] in ("how", "why", "what")]
            rng.shuffle(questions)
            patterns = (*questions, "{t}", "{t}, Explained", "{b}: What Happens Next")
        return _english_titles(rng, topic.titles, patterns, {"place": place})

    # --- fiction -------------------------------------------------------------------------

    def fiction(self, rng: random.Random, item_type: str, subject: str | None = None,
                window: Window | None = None) -> dict[str, Any]:
        language = pick_language(rng)
        chosen: Premise = _weighted(rng, tuple(p for p in self.premises if p.name == subject) or self.premises)
        item = self._base(rng, item_type, language, 1 + (rng.random() < 0.2), chosen.earliest, window)
        # "Rewind Nights" reads as a title, "Clockwork Days Nights" does not: suffixes go on one-word titles.
        one_word = tuple(t for t in chosen.titles if " " not in _bare(t))
        english = itertools.chain(_english_titles(rng, chosen.titles, ("{t}",), {}),
                                  _english_titles(rng, one_word, tuple(f"{{b}} {s}" for s in TITLE_SUFFIXES), {}))
        item["title"] = self._title(rng, language, english)
        cast = people(rng, language, 3)
        item["cast"] = cast
        bindings = self._common_bindings(rng, item, chosen.genres[0])
        # One lead in one setting per story; goals, turns and texture may vary within it.
        setting = rng.choice(chosen.settings)
        bindings.update(lead=rng.choice(chosen.leads), setting=setting, goal=list(chosen.goals),
                        turn=list(chosen.turns), texture=list(chosen.texture),
                        genre_noun=GENRE_NOUNS.get(chosen.genres[0], "drama"), place=shooting_place(rng, setting),
                        # Series name a leading pair plus one more; films a lead plus supporting players.
                        cast_lead=cast[0], cast_pair=f"{cast[0]} and {cast[1]}",
                        cast_support=cast[2:] if item_type == "series" else cast[1:])
        if item_type == "series":
            seasons = rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8))
            item.update(seasons=seasons, episodes=seasons * rng.randint(6, 12))
            bindings.update(seasons=COUNT_WORDS[seasons - 1], episodes=str(item["episodes"]))
        templates = SERIES if item_type == "series" else FILM
        item["description"] = _describe(rng, templates, bindings, self._language_note(item, False))
        topics = [chosen.name]
        item.update(genres=sorted(set(chosen.genres)), topics=topics, rating=round(rng.uniform(4.8, 9.0), 1))
        return item


_NONFICTION_TEMPLATES: dict[str, Templates] = {"documentary": DOCUMENTARY, "podcast": PODCAST, "article": ARTICLE}


def shooting_place(rng: random.Random, setting: str) -> str:
    """Where a film was shot: the proper-noun tail of its setting ("... in Palo Alto" -> "Palo
    Alto"), else somewhere that fits any story."""
    tail = setting.rsplit(" in ", 1)[-1] if " in " in setting else ""
    if tail[:1].isupper() and not tail[:4].isdigit():
        return tail
    return rng.choice(("a studio backlot", "a town that asked not to be named", "three countries"))


def authored_items(config: AuthoredConfig, titles: TitleRegistry) -> dict[str, list[dict[str, Any]]]:
    """Generated items per type (ids are given by the catalog builder)."""
    generator = _Generator(config, titles)
    out: dict[str, list[dict[str, Any]]] = {}
    for item_type in ("series", "documentary", "podcast", "article", "film"):
        rng = random.Random(f"{config.seed}:{item_type}")
        make = generator.nonfiction if item_type in NONFICTION_TYPES else generator.fiction
        items = [make(rng, item_type, subject=s.subject, window=window)
                 for s in config.spotlights if s.item_type == item_type
                 for window, count in ((RECENT, s.recent), (EARLIER, s.earlier)) for _ in range(count)]
        for _ in range(config.count(item_type) - len(items)):
            if item_type == "series" and rng.random() < config.docuseries_share:
                items.append(generator.nonfiction(rng, "documentary", docuseries=True))
            elif item_type in NONFICTION_TYPES:
                items.append(generator.nonfiction(rng, item_type))
            else:
                items.append(generator.fiction(rng, item_type))
        out[item_type] = items
    return out
