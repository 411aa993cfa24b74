"""Real films for the demo catalog: Wikipedia lead sections joined with MovieLens and IMDb
metadata (see `sources.py`), each turned into a catalog item.

The summaries were fetched by page title, so some are not about a film at all ("Casablanca"
is the city, "M" the letter) and a few are copies of another entry's text. Those are dropped:
an item whose description talks about something else would poison every retrieval metric.
Year, language, director and cast are read from the lead sentence ("Vertigo is a 1958
American film noir ... directed and produced by Alfred Hitchcock"), and so are genres, which
are merged with MovieLens/IMDb genres when the title (and year) match; running time and rating
come from IMDb. Items with no year or no genre anywhere are dropped, not guessed.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable

from .sources import FilmSources

# A lead sentence is about a film when it uses one of these words.
_FILM_WORDS = re.compile(r"\b(film|films|featurette|movie|documentary|motion picture)\b", re.I)
_KEY_SUFFIX = re.compile(r"\s*\((?:(\d{4}) )?(?:[A-Z][a-z]+ )?film\)$")
_YEAR = re.compile(r"\b(18[89]\d|19\d\d|20[0-2]\d)\b")
_SILENT = re.compile(r"\bsilent\b", re.I)

# Nationality adjective in the lead sentence -> ISO 639-1 code of the film's language.
# Ambiguous ones (Canadian, Indian, Belgian, Swiss, Senegalese, ...) are left out on purpose:
# no language is better than a wrong one for a filter.
NATIONALITY_LANGUAGE: dict[str, str] = {
    "American": "en", "British": "en", "English": "en", "Australian": "en", "Irish": "en", "Scottish": "en",
    "French": "fr", "Italian": "it", "Japanese": "ja", "Spanish": "es", "Mexican": "es", "Argentine": "es",
    "Argentinian": "es", "Cuban": "es", "Chilean": "es", "Colombian": "es", "German": "de", "West German": "de",
    "East German": "de", "Austrian": "de", "Swedish": "sv", "Danish": "da", "Norwegian": "no", "Finnish": "fi",
    "Dutch": "nl", "Soviet": "ru", "Russian": "ru", "Polish": "pl", "Hungarian": "hu", "Czechoslovak": "cs",
    "Czech": "cs", "Romanian": "ro", "Greek": "el", "Turkish": "tr", "Egyptian": "ar", "Iranian": "fa",
    "Taiwanese": "zh", "Chinese": "zh", "Hong Kong": "zh", "South Korean": "ko", "Korean": "ko", "Thai": "th",
    "Brazilian": "pt", "Portuguese": "pt",
}
# "(French: Le ballon rouge)", "-language", "(Italian pronunciation: ...)" name the language outright.
LANGUAGE_NAMES: dict[str, str] = {
    "English": "en", "French": "fr", "Italian": "it", "Japanese": "ja", "Spanish": "es", "German": "de",
    "Swedish": "sv", "Danish": "da", "Norwegian": "no", "Finnish": "fi", "Dutch": "nl", "Russian": "ru",
    "Polish": "pl", "Hungarian": "hu", "Czech": "cs", "Romanian": "ro", "Greek": "el", "Turkish": "tr",
    "Arabic": "ar", "Persian": "fa", "Mandarin": "zh", "Cantonese": "zh", "Chinese": "zh", "Korean": "ko",
    "Thai": "th", "Portuguese": "pt", "Hindi": "hi", "Bengali": "bn", "Wolof": "wo", "Georgian": "ka",
}
# Romanisation systems and genre names that only one language uses.
_LANGUAGE_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Hepburn:|\bJidaigeki\b|[\u3040-\u30ff]"), "ja"),
    (re.compile(r"Revised Romanization|[\uac00-\ud7af]"), "ko"),
)
_LANGUAGE_TAG = re.compile(r"\b(" + "|".join(LANGUAGE_NAMES) + r")-language\b")
_ORIGINAL_TITLE = re.compile(r"[(;]\s*(" + "|".join(LANGUAGE_NAMES) + r")(?: pronunciation)?:\s*([^,;)\[]+)")
_NATIONALITY = re.compile(
    r"\b(?:is|was) (?:an?|the) (?:[\w\-]+ )*?\d{4} ((?:[A-Z][a-z]+(?:[ -](?=[A-Z]))?)+)")

# Genre words of a lead sentence, in the MovieLens vocabulary (lowercased, spelled out).
GENRE_WORDS: dict[str, str] = {
    "film noir": "film noir", "noir": "film noir", "comedy": "comedy", "comedies": "comedy",
    "drama": "drama", "melodrama": "drama", "thriller": "thriller", "horror": "horror", "western": "western",
    "science fiction": "science fiction", "sci-fi": "science fiction", "musical": "musical",
    "documentary": "documentary", "war": "war", "romantic": "romance", "romance": "romance", "crime": "crime",
    "gangster": "crime", "animated": "animation", "animation": "animation", "fantasy": "fantasy",
    "mystery": "mystery", "adventure": "adventure", "action": "action", "epic": "adventure",
    "short film": "short", "short silent film": "short", "experimental": "experimental",
    "avant-garde": "experimental", "surrealist": "experimental",
    "historical": "history", "period drama": "history", "biographical": "biography", "biopic": "biography",
    "wuxia": "action", "martial arts": "action", "satire": "comedy", "satirical": "comedy", "tragedy": "drama",
    "mockumentary": "comedy",
}
_GENRE_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, GENRE_WORDS), key=len, reverse=True)) + r")\b",
                            re.I)
MOVIELENS_GENRES: dict[str, str] = {"sci-fi": "science fiction", "film-noir": "film noir", "children": "family",
                                    "(no genres listed)": "", "imax": ""}
IMDB_GENRE_FLAGS = ("Action", "Animation", "Comedy", "Drama", "Documentary", "Romance")

# A person's name: capitalised words or initials ("D. W. Griffith"), with the particles of
# European surnames; a word ending in "." that is not an initial ends a sentence, not a name.
_NAME = r"(?:[A-Z]\.|[A-Z][\w'\-]+)(?: (?:[A-Z]\.|[A-Z][\w'\-]+|(?:de|van|von|di|da|del|der|la|le)\b))*"
# The first "by" after "directed" ("directed, produced and edited by"); a later one belongs to
# another credit ("directed by the Wachowskis and produced by Joel Silver").
_DIRECTED = re.compile(r"(?:\bdirected\b(?:(?!\bby\b)[^.]){0,45}?|\b(?:film|documentary|featurette) )\bby "
                       r"(?:(?:[A-Z][\w\-]+ )?(?:director|filmmaker) )?("
                       + _NAME + r")(?: and (" + _NAME + r"))?")
_STARRING = re.compile(r"\b(?:[Ss]tarring|[Ii]t stars|[Tt]he film stars|[Ss]tars) ([^.;:()]+)")
_TRAILING_ARTICLE = re.compile(r"^(.*), (the|a|an|les|la|le|l'|il|el|los|las|die|der|das)$")


def normalise_title(title: str) -> str:
    """Join key: ASCII, lowercase, articles moved back to the front, punctuation dropped.
    "Quatre cents coups, Les" and "Les Quatre Cents Coups" both become "les quatre cents coups"."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = ascii_text.lower().strip().replace("&", " and ")
    match = _TRAILING_ARTICLE.match(text)
    if match:
        text = f"{match.group(2)} {match.group(1)}"
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def split_alternate_titles(title: str) -> list[str]:
    """MovieLens writes alternates in parentheses: "Seven Samurai (Shichinin no samurai)"."""
    alternates = [a.removeprefix("a.k.a. ") for a in re.findall(r"\(([^()]+)\)", title)]
    return [re.sub(r"\s*\([^()]*\)", "", title).strip(), *alternates]


# Periods that do not end a sentence: initials ("F. W. Murnau"), "Dr.", "St.", "lit.", "U.S.".
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Dr|Mr|Mrs|Ms|St|Jr|Sr|Mt|lit|transl|translit|tr|vs|No|U\.S|U\.K|RTGS|ca))$")


def lead_sentence(text: str) -> str:
    """The first sentence. Wikipedia leads often glue sentences ("classic.The word"), so a
    period directly followed by a capital ends one too, unless it closes an abbreviation."""
    for match in re.finditer(r"\.(?=\s+[A-Z\"']|[A-Z]|\s*$)", text):
        before = text[: match.start()]
        # A period inside parentheses belongs to an original title or a transliteration.
        if not _ABBREVIATION.search(before) and before.count("(") <= before.count(")"):
            return text[: match.start() + 1]
    return text


def is_film_text(text: str) -> bool:
    """About a film: its lead sentence says so ("is a 1958 American film noir", "directed by").
    Leads about a person, a place or a novel that a film was merely based on are rejected."""
    lead = lead_sentence(text)
    return bool(_FILM_WORDS.search(lead) or (_GENRE_PATTERN.search(lead) and "directed" in lead))


def year_from_text(text: str) -> int | None:
    """First plausible year after the copula of the lead ("2001: A Space Odyssey is the 1968 ...")."""
    lead = lead_sentence(text)
    copula = re.search(r"\b(is|was|are)\b", lead)
    match = _YEAR.search(lead, copula.end() if copula else 0)
    return int(match.group(1)) if match else None


def language_from_text(text: str, year: int | None) -> str | None:
    lead = lead_sentence(text)
    tagged = _LANGUAGE_TAG.search(lead)
    if tagged:
        return LANGUAGE_NAMES[tagged.group(1)]
    original = _ORIGINAL_TITLE.search(text[:250])
    if original and original.group(1) != "English":
        return LANGUAGE_NAMES[original.group(1)]
    for hint, code in _LANGUAGE_HINTS:
        if hint.search(text[:250]):
            return code
    if _SILENT.search(lead) or (year is not None and year < 1928):
        return None  # intertitles only: a language filter should not claim it
    nation = _NATIONALITY.search(lead)
    if not nation:
        return None
    # "French-Italian Left Bank", "American Technicolor VistaVision Western": each hyphenated
    # part starts with a nationality of one or two words; whatever follows is style, not origin.
    codes = set()
    for part in re.split(r"-(?=[A-Z])", nation.group(1)):
        words = part.split()
        code = NATIONALITY_LANGUAGE.get(" ".join(words[:2])) or NATIONALITY_LANGUAGE.get(words[0])
        codes.add(code)
    # Co-productions in two languages ("Italian-Algerian") get none rather than a guess.
    return codes.pop() if len(codes) == 1 and None not in codes else None


def people_from_text(text: str) -> tuple[list[str], list[str]]:
    """(creators, cast) named in the first paragraph."""
    first = text.split("\n", 1)[0]
    creators: list[str] = []
    directed = _DIRECTED.search(first)
    if directed:
        creators = [name for name in directed.groups() if name]
    cast: list[str] = []
    starring = _STARRING.search(first)
    if starring:
        for chunk in re.split(r",\s*(?:and\s+)?|\s+and\s+", starring.group(1)):
            name = chunk.split(" as ", 1)[0].strip()
            if re.fullmatch(r"[A-Z][\w.'\-]+(?: [A-Z][\w.'\-]+){1,3}", name):
                cast.append(name)
    return creators, cast[:6]


# "is a 1956 American Technicolor VistaVision Western film": the genre words sit between the
# copula and the noun. Reading only that span keeps "the Texas-Indian wars" or "western
# Ireland" later in the sentence from becoming genres.
_HEAD_NOUN_PHRASE = re.compile(
    r"\b(?:is|was) (?:an?|the) ([^,;(]{0,120}\b(?:film|movie|featurette|documentary|picture|satire|comedy|"
    r"drama|thriller|western|Western|noir|musical))\b")


def genres_from_text(text: str) -> list[str]:
    """Genre words of the lead's head noun phrase ("a 1958 American film noir psychological
    thriller film"), or of the lead sentence when it has no such phrase."""
    lead = lead_sentence(text)
    head = _HEAD_NOUN_PHRASE.search(lead)
    span = head.group(1) if head else lead
    return sorted({GENRE_WORDS[m.group(1).lower()] for m in _GENRE_PATTERN.finditer(span)})


def title_from_key(key: str) -> str:
    return _KEY_SUFFIX.sub("", key).strip()


@dataclass
class _TitleIndex:
    """normalised title -> row positions of a metadata table."""

    by_title: dict[str, list[int]]
    years: list[int | None]

    @classmethod
    def build(cls, titles: Iterable[str], years: Iterable[Any], split: bool) -> "_TitleIndex":
        by_title: dict[str, list[int]] = {}
        for row, title in enumerate(titles):
            for name in (split_alternate_titles(title) if split else [title]):
                by_title.setdefault(normalise_title(name), []).append(row)
        clean_years = [int(y) if y is not None and y == y else None for y in years]  # y != y: NaN
        return cls(by_title, clean_years)

    def find(self, names: Iterable[str], year: int | None) -> int | None:
        """Closest-year row among the name matches; without a year only an unambiguous match."""
        rows = sorted({r for name in names for r in self.by_title.get(normalise_title(name), [])})
        if year is None:
            return rows[0] if len(rows) == 1 else None
        dated = [(abs(self.years[r] - year), r) for r in rows if self.years[r] is not None
                 and abs(self.years[r] - year) <= 2]
        return min(dated)[1] if dated else None


def candidate_names(key: str, text: str) -> list[str]:
    names = [title_from_key(key)]
    lead_title = re.split(r" \(| is | was |, ", text, maxsplit=1)[0]
    if 0 < len(lead_title) <= 80:
        names.append(lead_title)
    original = _ORIGINAL_TITLE.search(text[:250])
    if original:
        names.append(original.group(2).strip())
    return list(dict.fromkeys(names))


def _movielens_genres(raw: str) -> list[str]:
    out = []
    for genre in str(raw).split("|"):
        name = MOVIELENS_GENRES.get(genre.lower(), genre.lower())
        if name:
            out.append(name)
    return out


def film_items(sources: FilmSources) -> list[dict[str, Any]]:
    """Catalog items (without ids) for every summary that is really about a film, in file order."""
    movielens = _TitleIndex.build(sources.movielens["title"], sources.movielens["year"], split=True)
    imdb = _TitleIndex.build(sources.imdb["title"], sources.imdb["year"], split=False)
    seen_texts: set[str] = set()
    seen_titles: set[str] = set()
    items: list[dict[str, Any]] = []
    for key, raw_text in sources.summaries.items():
        text = raw_text.replace("\u200b", "").strip()
        title = title_from_key(key)
        # Copies of another entry's text, non-film pages and repeated titles are dropped.
        if text in seen_texts or not is_film_text(text) or normalise_title(title) in seen_titles:
            continue
        seen_texts.add(text)
        seen_titles.add(normalise_title(title))
        item = _film_item(key, title, text, movielens, imdb, sources)
        if item is not None:
            items.append(item)
    infer_languages_from_directors(items)
    return items


def infer_languages_from_directors(items: list[dict[str, Any]]) -> None:
    """Fill a missing language from the director's other films when at least two of them have
    one and they all agree ("Ran" gets Japanese from Kurosawa's other films). Silent films keep
    none; a director who worked in several languages gives none."""
    known: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for item in items:
        for person in item.get("creators", []):
            if "language" in item:
                known.setdefault(person, set()).add(item["language"])
                counts[person] = counts.get(person, 0) + 1
    for item in items:
        silent = item["year"] < 1930 or _SILENT.search(lead_sentence(item["description"]))
        if "language" in item or silent or not item.get("creators"):
            continue
        votes = [known.get(p, set()) for p in item["creators"] if counts.get(p, 0) >= 2]
        codes = set().union(*votes) if votes else set()
        if len(codes) == 1:
            item["language"] = codes.pop()


def _film_item(key: str, title: str, text: str, movielens: _TitleIndex, imdb: _TitleIndex,
               sources: FilmSources) -> dict[str, Any] | None:
    """None when no year or no genre can be found anywhere: both are required, and a made-up
    value would make filter questions answer wrongly."""
    key_year = _KEY_SUFFIX.search(key)
    year = year_from_text(text) or (int(key_year.group(1)) if key_year and key_year.group(1) else None)
    names = candidate_names(key, text)
    genres = set(genres_from_text(text))
    lead = lead_sentence(text)
    is_documentary = bool(re.search(r"\bdocumentary\b", lead, re.I))
    if is_documentary:
        genres.add("documentary")
    item: dict[str, Any] = {"title": title, "type": "documentary" if is_documentary else "film", "description": text}
    joined = ["wikipedia"]
    ml_row = movielens.find(names, year)
    if ml_row is not None:
        row = sources.movielens.iloc[ml_row]
        genres.update(_movielens_genres(row["genres"]))
        year = movielens.years[ml_row] or year  # the release year, where the lead may give the shooting year
        names += split_alternate_titles(row["title"])
        joined.append("movielens")
    imdb_row = imdb.find(names, year)
    if imdb_row is not None:
        row = sources.imdb.iloc[imdb_row]
        genres.update(flag.lower() for flag in IMDB_GENRE_FLAGS if row[flag] == 1)
        year = year or int(row["year"])
        item["duration_min"] = int(row["length"])
        item["rating"] = round(float(row["rating"]), 1)
        joined.append("imdb")
    if year is None:
        anywhere = _YEAR.search(text)
        year = int(anywhere.group(1)) if anywhere else None
    if year is None or not genres:
        return None
    item.update({"genres": sorted(genres), "year": year, "source": "+".join(joined)})
    creators, cast = people_from_text(text)
    language = language_from_text(text, year)
    optional = {"creators": creators, "cast": cast, "language": language}
    item.update({name: value for name, value in optional.items() if value})
    return item
