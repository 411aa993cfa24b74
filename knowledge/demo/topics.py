"""Subject banks for generated catalog items: what a documentary, podcast or article is about
(`Topic`), and what a series or film tells (`Premise`).

Each generated item records the names of the topics it was built from in its `topics`
field. That is what makes golden relevance judgments possible by construction: "documentaries
about climate change" are exactly the documentaries whose primary topic is "climate change",
whatever words their descriptions happen to use ("global warming", "melting glaciers").

Banks are written as `;`-separated strings so that one topic reads as one paragraph.
"""
from __future__ import annotations

from dataclasses import dataclass


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(";") if part.strip())


@dataclass(frozen=True)
class Topic:
    """A non-fiction subject.

    phrases:   noun phrases that name the subject ("global warming") - used after "about"
    sights:    concrete things a documentary shows or an article visits
    people:    plural noun phrases for the people involved
    questions: indirect questions the item asks ("why the ice is retreating")
    places:    place names
    titles:    title fragments in Title Case
    genres:    catalog genres the item gets (lowercase)
    related:   topics that make an item partially relevant (graded relevance 1)
    weight:    how many times more often than average the topic is drawn
    earliest:  first plausible release year (no podcasts about chatbots in 1970)
    fr, es:    the subject in French / Spanish, for items described in those languages
    """

    name: str
    genres: tuple[str, ...]
    phrases: tuple[str, ...]
    sights: tuple[str, ...]
    people: tuple[str, ...]
    questions: tuple[str, ...]
    places: tuple[str, ...]
    titles: tuple[str, ...]
    related: tuple[str, ...] = ()
    weight: float = 1.0
    earliest: int = 1950
    fr: tuple[str, ...] = ()
    es: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.name != self.name.lower():
            raise ValueError(f"topic names are lowercase: {self.name!r}")
        for bank in ("phrases", "sights", "people", "questions", "places", "titles"):
            if len(getattr(self, bank)) < 3:
                raise ValueError(f"topic {self.name!r} needs at least 3 {bank} for varied text")


def topic(name: str, genres: str, *, phrases: str, sights: str, people: str, questions: str, places: str,
          titles: str, related: str = "", weight: float = 1.0, earliest: int = 1950, fr: str = "",
          es: str = "") -> Topic:
    return Topic(name=name, genres=_split(genres), phrases=_split(phrases), sights=_split(sights),
                 people=_split(people), questions=_split(questions), places=_split(places), titles=_split(titles),
                 related=_split(related), weight=weight, earliest=earliest, fr=_split(fr), es=_split(es))


@dataclass(frozen=True)
class Premise:
    """A fiction premise for series and films.

    leads:     who the story follows ("a sleep-deprived coder")
    settings:  where ("a cramped garage office in Palo Alto")
    goals:     what the lead must do, as a verb phrase ("keep the company alive ...")
    turns:     what sets the story going, as a clause ("a rival steals their code")
    texture:   noun phrases for what the story is full of ("pitch meetings, pivots ...")
    titles:    title fragments in Title Case
    related:   premises or topics that make an item partially relevant
    weight, earliest: as for `Topic`
    """

    name: str
    genres: tuple[str, ...]
    leads: tuple[str, ...]
    settings: tuple[str, ...]
    goals: tuple[str, ...]
    turns: tuple[str, ...]
    texture: tuple[str, ...]
    titles: tuple[str, ...]
    related: tuple[str, ...] = ()
    weight: float = 1.0
    earliest: int = 1950

    def __post_init__(self) -> None:
        if self.name != self.name.lower():
            raise ValueError(f"premise names are lowercase: {self.name!r}")
        for bank in ("leads", "settings", "goals", "turns", "texture", "titles"):
            if len(getattr(self, bank)) < 3:
                raise ValueError(f"premise {self.name!r} needs at least 3 {bank} for varied text")


def premise(name: str, genres: str, *, leads: str, settings: str, goals: str, turns: str, texture: str,
            titles: str, related: str = "", weight: float = 1.0, earliest: int = 1950) -> Premise:
    return Premise(name=name, genres=_split(genres), leads=_split(leads), settings=_split(settings),
                   goals=_split(goals), turns=_split(turns), texture=_split(texture), titles=_split(titles),
                   related=_split(related), weight=weight, earliest=earliest)


def all_topics() -> tuple[Topic, ...]:
    from .topics_culture import CULTURE_TOPICS
    from .topics_science import SCIENCE_TOPICS

    topics = SCIENCE_TOPICS + CULTURE_TOPICS
    _check_unique([t.name for t in topics], "topic")
    return topics


def all_premises() -> tuple[Premise, ...]:
    from .premises import PREMISES

    _check_unique([p.name for p in PREMISES], "premise")
    return PREMISES


def _check_unique(names: list[str], kind: str) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate {kind} names: {duplicates}")
