"""Query understanding: a question → QueryPlan(route, typed filters, search text, trace spans).

    "documentaries about climate change from the last year"     (today = 2026-11-22)
      route   catalog
      filters {"type": "documentary", "released": {"gte": "2025-11-22", "lte": "2026-11-22"}}
      search  "climate change"
      spans   "documentaries" → type=documentary;  "from the last year" → released 2025-11-22..2026-11-22

Deterministic rules, not an LLM: small local models invent filters and mangle dates (DESIGN.md §6),
and a rule that misfires can be read, tested and fixed. Filters come out in the dict form of the
golden sets (`knowledge.filters.filters_from_dict` reads it), so the parser is scored against
what a perfect parser would produce (evals/query_eval.py).

How a question is read, and the principle behind every rule: *never invent a filter the
question does not state* — a wrong filter hides the right item for good, a missing one only
costs ranking.
  1. Titles (from the catalog vocabulary) and quoted strings are protected: "Last Stop" is not
     a date, "The Family Table Podcast" not a type, "Is Burn Rate any good?" not a rating.
  2. The question splits into a *head* and a *topic clause* at the first "about", "on", "set
     in", "that", "like", ...: "podcasts about horror films" is a podcast, not a horror film.
     Types, genres and language adjectives are read in the head only; explicit phrases ("in
     French", "released in 2025", "rated above 8", "directed by X") anywhere.
  3. A definite description ("the Hitchcock film about a retired detective", "Tell me about
     the podcast Serial") is a lookup of one item: no filters, because the user's memory of
     an item's metadata is the least reliable part of such a question and the description
     already pins it (the golden set files lookups with no filters for the same reason).
  4. Route: a catalog noun in the head wins; else clinical words send it to notes; else the
     caller's collection hint; greetings and thanks alone are chit-chat.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal

from knowledge.filters import Filter, filters_from_dict

from . import query_lexicon as lex
from .dates import DateRange, TimePhrase, find_time_phrases
from .query_lexicon import QueryError, Vocabulary

__all__ = ["MAX_QUESTION_CHARS", "QueryError", "QueryPlan", "Route", "Span", "Vocabulary", "understand"]

Route = Literal["catalog", "notes", "chitchat"]
I = re.IGNORECASE
# Longest question accepted. Real questions are a sentence or two (the golden sets' longest is 90
# characters); 4000 still takes a pasted paragraph, is about 1000 tokens so the rules, the demo
# and the sources keep their room in the answer model's default 4096-token context, and bounds
# the parser's work, which runs before the model is asked and keeps other chats waiting.
MAX_QUESTION_CHARS = 4000


# --- the plan -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    """One phrase of the question and what it became, for the answer trace."""
    phrase: str
    span: tuple[int, int]
    became: str  # "type=documentary", "released>=2025-11-22", or "ignored: <why>"


@dataclass(frozen=True)
class QueryPlan:
    route: Route
    filters: dict[str, Any]  # golden-set dict form; treat as read-only
    search_text: str  # the question minus the filter phrases ("" when nothing is left)
    spans: tuple[Span, ...] = ()
    question: str = ""
    lookup: bool = False  # rule 3: one specific item is asked for
    similar_to: str | None = None  # the known title in "comedies like Silicon Valley"

    @property
    def query(self) -> str:
        """Text for the retrievers: a pure-filter question ("Korean-language films") leaves no
        search text, and retrieval needs some; the whole question is the honest fallback."""
        return self.search_text or self.question

    def filter_list(self) -> list[Filter]:
        return [] if self.route == "chitchat" else filters_from_dict(self.filters, self.route)


@dataclass
class _Found:
    start: int
    end: int
    became: str
    field: str | None = None  # None: an ignored phrase, traced but not a filter
    op: str = "eq"
    value: Any = None
    remove: bool = True  # cut from the search text


class _Reading:
    """One question being read: protected spans, claimed spans, and what was found."""

    def __init__(self, question: str, vocabulary: Vocabulary | None) -> None:
        self.text, self.fold, self.vocab = question, lex.fold(question), vocabulary
        self.protected: list[tuple[int, int]] = [(m.start("t"), m.end("t")) for m in lex.QUOTED.finditer(question)]
        if vocabulary is not None and vocabulary.title_pattern is not None:
            self.protected += [m.span() for m in vocabulary.title_pattern.finditer(question)
                               if not self.overlaps(*m.span())]
        self.found: list[_Found] = []
        opener = lex.OPENER.match(question)
        self.body = opener.end() if opener else 0
        # "Which series are in German?": a question word opening the body asks, it does not start a topic.
        topic = next((m for m in lex.TOPIC.finditer(question, self.body)
                      if self.free(*m.span()) and question[self.body:m.start()].strip()), None)
        self.head_end = topic.start() if topic else len(question)

    def overlaps(self, start: int, end: int, spans: Iterable[tuple[int, int]] | None = None) -> bool:
        return any(start < e and s < end for s, e in (self.protected if spans is None else spans))

    def free(self, start: int, end: int) -> bool:
        return not self.overlaps(start, end) and not self.overlaps(start, end, [(f.start, f.end) for f in self.found])

    def in_head(self, start: int) -> bool:
        return self.body <= start < self.head_end

    def add(self, start: int, end: int, became: str, field: str | None = None, op: str = "eq", value: Any = None,
            remove: bool = True) -> None:
        self.found.append(_Found(start, end, became, field, op, value, remove))

    def next_word(self, pos: int) -> str:
        m = re.match(r"[\s,]*([^\W\d][\w'’-]*)", self.text[pos:])
        return m.group(1) if m else ""

    def is_content_noun(self, word: str) -> bool:
        """A type or genre word: "horror" in "Japanese horror films", "films" in "90s films"."""
        return bool(word) and (lex.TYPE_RE.fullmatch(word) is not None or lex.GENRE_RE.fullmatch(word) is not None)

    def ends_phrase(self, pos: int, *, nouns: bool = True) -> bool:
        """Nothing, punctuation, a boundary word (or, if `nouns`, a content noun) follows: the
        phrase is not a modifier of some other noun ("in Spanish" vs "in Spanish schools")."""
        word = self.next_word(pos)
        rest = self.text[pos:].lstrip()
        return (not word or not rest or not rest[0].isalnum() or word.lower() in lex.BOUNDARY
                or (nouns and self.is_content_noun(word)))


# --- rules: each reads one kind of phrase --------------------------------------------------

def _genres(r: _Reading) -> None:
    for m in lex.GENRE_BLOCKERS.finditer(r.text):
        r.add(m.start(), m.end(), "ignored: a topic, not a genre", remove=False)
    hits = []
    for m in lex.GENRE_RE.finditer(r.text):
        word = m.group("w")
        if not (r.in_head(m.start()) and r.free(*m.span())):
            continue
        # A singular genre word must stand as a noun or modify a type: "comedy series", "a western"
        # - not "western Europe", "action figures", "musical instruments".
        follows = r.next_word(m.end())
        if (lex.PLURAL_GENRES.fullmatch(word) or r.is_content_noun(follows)
                or (lex.STANDALONE_GENRES.fullmatch(word) and r.ends_phrase(m.end()))):
            hits.append((m, lex.genre_of(word)))
    known = r.vocab.genres if r.vocab and r.vocab.genres else None
    for i, (m, genre) in enumerate(hits):
        adjacent = i + 1 < len(hits) and re.fullmatch(r"[\s-]*", r.text[m.end():hits[i + 1][0].start()])
        if known is not None and genre not in known:
            r.add(*m.span(), f"ignored: no {genre!r} genre in this collection", remove=False)
        elif adjacent:
            # "crime dramas", "romantic comedies": the head noun is the genre asked for; the
            # modifier stays in the search text (a dict filter cannot say "both").
            r.add(*m.span(), f"kept in search text: modifies {hits[i + 1][1]!r}", remove=False)
        else:
            r.add(*m.span(), f"genres={genre}", "genres", "eq", genre)


def _types(r: _Reading) -> None:
    matches = []
    for m in lex.TYPE_RE.finditer(r.text):
        word, after = m.group("w").lower(), r.text[m.end():].lstrip().lower()
        if not r.free(*m.span("w")) or (not _is_activity(m) and not r.in_head(m.start("w"))):
            continue  # "podcasts about films": films is the topic
        if word in ("show", "shows") and (after.startswith(("me ", "us ", "how ")) or
                                           (matches and re.fullmatch(r"\s*", r.text[matches[-1].end():m.start()]))):
            continue  # "show me", "a film shows how": a verb
        if word == "series" and after.startswith("of "):
            continue  # "a series of lectures"
        matches.append(m)
    if any(not _is_activity(m) for m in matches):
        # "I want to watch a scary movie": the noun says which medium; "to watch" only widens.
        for m in matches:
            if _is_activity(m):
                r.add(*m.span(), "ignored: a type noun names the medium")  # still cut from the search text
        matches = [m for m in matches if not _is_activity(m)]
    for i, m in enumerate(matches):
        types, _ = lex.match_type(m.group("w"))
        nxt = matches[i + 1] if i + 1 < len(matches) else None
        if nxt and len(types) == 1 and re.fullmatch(r"\s*", r.text[m.end():nxt.start()]):
            # "documentary series", "film podcasts": the first noun modifies the second. A
            # documentary series is a series with the documentary genre; other modifiers are topics.
            if types == ("documentary",) and (r.vocab is None or "documentary" in r.vocab.genres):
                r.add(*m.span(), "genres=documentary", "genres", "eq", "documentary")
            else:
                r.add(*m.span(), f"kept in search text: modifies {nxt.group('w')!r}", remove=False)
            continue
        r.add(*m.span(), f"type={'|'.join(types)}", "type", "eq", list(types))
        if m.group("w").lower().startswith("sitcom") and not any(f.field == "genres" for f in r.found):
            r.add(m.end(), m.end(), "genres=comedy (a sitcom is a comedy)", "genres", "eq", "comedy")


def _is_activity(m: re.Match[str]) -> bool:
    """"something to watch", "to read": a medium named by what one does with it."""
    return m.group("w").lower().split()[-1] in ("watch", "read", "hear", "to")


def _languages(r: _Reading) -> None:
    def codes(text: str) -> list[str]:
        return [lex.LANGUAGES[w.lower()] for w in re.findall(lex.LANG_ALT, text, I)]

    for m in lex.LANG_IN.finditer(r.text):
        if r.free(*m.span()) and r.ends_phrase(m.end(), nouns=False):
            r.add(*m.span(), f"language={'|'.join(codes(m['langs']))}", "language", "eq", codes(m["langs"]))
    for m in lex.LANG_ADJ.finditer(r.text):
        if not (r.in_head(m.start()) and r.free(*m.span())):
            continue
        explicit = m.group(0).lower().endswith(("language", "speaking"))
        # "Japanese films", "French comedies", "Korean horror films": a language adjective counts
        # only on a type or genre noun; "French fries", "French Revolution" stay topics.
        if explicit or r.is_content_noun(r.next_word(m.end())):
            r.add(*m.span(), f"language={'|'.join(codes(m['langs']))}", "language", "eq", codes(m["langs"]))


def _people(r: _Reading) -> None:
    if r.vocab is None or r.vocab.people_pattern is None:
        return  # names are only trusted when the collection has them: a filter on a misspelt name is empty
    pattern, names = r.vocab.people_pattern
    for m in pattern.finditer(r.fold):
        if not r.free(*m.span()):
            continue
        name, before = names[m.group(0)], r.text[:m.start()]
        roles = r.vocab.people[name]
        cue = lex.CAST_CUE.search(before) or lex.CREATOR_CUE.search(before)
        if cue is None and not r.in_head(m.start()):
            continue  # "podcasts about Alfred Hitchcock": the person is the topic
        wanted = "cast" if cue is not None and cue.re is lex.CAST_CUE else "creators"
        role = wanted if wanted in roles else next(iter(sorted(roles)))
        start = cue.start() if cue else m.start()
        r.add(start, m.end(), f"{role}={name}", role, "eq", name)


def _similar(r: _Reading) -> str | None:
    """"comedies like Silicon Valley": the item named sets the medium when the question names
    none (Silicon Valley is a series, so: comedy *series*)."""
    if r.vocab is None:
        return None
    for start, end in r.protected:
        title = r.text[start:end]
        if title in r.vocab.titles and lex.SIMILAR_CUE.search(r.text[:start]):
            if not any(f.field == "type" for f in r.found):
                kind = r.vocab.titles[title]
                r.add(start, start, f"type={kind} (like {title!r}, a {kind})", "type", "eq", [kind], remove=False)
            return title
    return None


def _times(r: _Reading, today: dt.date, route: Route) -> None:
    for p in find_time_phrases(r.text, today, skip=lambda s, e: not r.free(s, e)):
        why = _time_veto(r, p, route)
        if why:
            r.add(p.start, p.end, f"ignored: {why}", remove=False)
            continue
        parts = _range_filters(p.range, route)
        became = ", ".join(f"{fld} {op} {value}" for fld, op, value in parts)
        for fld, op, value in parts:
            r.add(p.start, p.end, became, fld, op, value)


def _time_veto(r: _Reading, p: TimePhrase, route: Route) -> str | None:
    """Why a time phrase is not a filter, or None. The year-2000 problem, 1984 and the 1990s
    Balkan wars are topics; "set in the 1920s" is the story's time, not the release's."""
    if p.cue == "setting":
        return "when the story is set, not when it was released"
    if p.cue == "relative":
        return None
    word = r.next_word(p.end)
    if word[:1].isupper() or word.lower() in lex.EVENT_NOUNS:
        return f"dates {word!r}, a topic"
    if route == "notes":
        return None if p.cue != "bare" else "a bare number"
    if p.cue == "weak" and not r.in_head(p.start):
        return "in the topic clause (it dates the topic)"
    if p.cue == "bare" and not (r.in_head(p.start) and r.is_content_noun(word)):
        return "a bare number with no release cue"
    return None


def _range_filters(rng: DateRange, route: Route) -> list[tuple[str, str, Any]]:
    """A year-grain catalog range filters `year` (every item has one; `released` is optional);
    finer ranges filter `released` (catalog) or `date` (notes) as ISO dates."""
    if route == "catalog" and rng.grain == "year":
        lo, hi = (rng.start.year if rng.start else None), (rng.end.year if rng.end else None)
        if lo is not None and lo == hi:
            return [("year", "eq", lo)]
        return [("year", op, v) for op, v in (("gte", lo), ("lte", hi)) if v is not None]
    fld = "released" if route == "catalog" else "date"
    return [(fld, op, v.isoformat()) for op, v in (("gte", rng.start), ("lte", rng.end)) if v is not None]


def _duration_and_rating(r: _Reading) -> None:
    for m in lex.DURATION.finditer(r.text):
        if not r.free(*m.span()):
            continue
        cmp = " ".join((m["cmp"] or m["cmp2"]).lower().split())
        minutes = lex.number(m["num"] or m["num2"]) + (0.5 if m["half"] or m["half2"] else 0)
        minutes *= 60 if (m["unit"] or m["unit2"]).lower().startswith("h") else 1
        r.add(*m.span(), f"duration_min {lex.CMP[cmp]} {round(minutes)}", "duration_min", lex.CMP[cmp], round(minutes))
    for m in lex.RATING.finditer(r.text):
        cmp = " ".join((m["cmp2"] or m["cmp"] or ("or more" if m["plus"] else "")).lower().split())
        value = lex.number(m["num"])
        # A bare "rated 8" states no direction, and ratings run 0-10: anything else is not a rating.
        if cmp and 0 <= value <= 10 and r.free(*m.span()):
            r.add(*m.span(), f"rating {lex.CMP[cmp]} {value}", "rating", lex.CMP[cmp], value)


def _notes_fields(r: _Reading) -> None:
    vocab = r.vocab
    note_types = sorted(vocab.note_types if vocab and vocab.note_types else lex.NOTE_TYPES_DEFAULT,
                        key=len, reverse=True)
    for note_type in note_types:
        stem = re.escape(note_type).replace(r"\ ", r"\s+")
        plural = stem[:-1] + "(?:y|ies)" if note_type.endswith("y") else stem + "s?"
        for m in re.finditer(rf"\b{plural}\b", r.text, I):
            if r.free(*m.span()):
                r.add(*m.span(), f"note_type={note_type}", "note_type", "eq", note_type)
    known = vocab.patient_ids if vocab else frozenset()
    for m in lex.PATIENT_ID.finditer(r.text):
        token = m["id"] or m["bare"]
        # An explicit id ("pt_0999") stays even when unknown: dropping it would search every
        # patient's notes and answer about someone else; kept, it finds nothing and is refused.
        value = token if not known or token in known or _same_scheme(token, known) else \
            _patient_by_number(token, known)
        if value and r.free(*m.span()):
            r.add(*m.span(), f"patient_id={value}", "patient_id", "eq", value)
    if vocab is not None and vocab.author_pattern is not None:
        pattern, cores = vocab.author_pattern
        for m in pattern.finditer(r.fold):
            cue = lex.AUTHOR_CUE.search(r.text[:m.start()])
            if cue and r.free(*m.span()):
                r.add(cue.start(), m.end(), f"author={'|'.join(cores[m.group(0)])}", "author", "eq", cores[m.group(0)])


def _same_scheme(token: str, known: frozenset[str]) -> bool:
    """"pt_0999" looks like the known ids ("pt_0001", ...): the same letters before its digits."""
    letters = re.match(r"([a-z]+)[_-]?\d", token, I)
    schemes = {m.group(1).lower() for p in known if (m := re.match(r"([a-z]+)[_-]?\d", p, I))}
    return bool(letters) and letters.group(1).lower() in schemes


def _patient_by_number(token: str, known: frozenset[str]) -> str | None:
    """"patient 12" → pt_0012 when exactly one known id carries that number."""
    if not token.isdigit():
        return None
    same = [p for p in known if re.search(r"\d+", p) and int(re.search(r"\d+", p).group()) == int(token)]
    return same[0] if len(same) == 1 else None


def _names_one_item(r: _Reading) -> bool:
    """"Who hosts the podcast Serial?": a title (known or quoted) right after "the <type>" is a
    lookup of that one item anywhere in the question, not only at its head (rule 3)."""
    for start, _ in r.protected:
        m = re.search(r"\bthe\s+(?:[\w-]+\s+){0,2}?([\w-]+)\s*['\"‘“]?$", r.text[:start], I)
        if m and lex.TYPE_RE.fullmatch(m.group(1)):
            return True
    return False


# --- assembly -------------------------------------------------------------------------------

def _merge(found: list[_Found]) -> dict[str, Any]:
    """Found phrases → the filter dict. Equality values accumulate as "any of"; bounds on the
    same field intersect (the tighter one wins), and lo == hi collapses to one value."""
    equal: dict[str, list[Any]] = {}
    bounds: dict[str, dict[str, Any]] = {}
    for f in found:
        if f.field is None:
            continue
        if f.op == "eq" and f.field != "year":
            values = f.value if isinstance(f.value, list) else [f.value]
            equal.setdefault(f.field, []).extend(v for v in values if v not in equal.get(f.field, []))
            continue
        ops = bounds.setdefault(f.field, {})
        pairs = [("gte", f.value), ("lte", f.value)] if f.op == "eq" else [(f.op, f.value)]
        for op, value in pairs:
            tighter = max if op in ("gt", "gte") else min
            ops[op] = tighter(ops[op], value) if op in ops else value
    out: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in equal.items()}
    for fld, ops in bounds.items():
        # One day or one year is an equality: "of 2024-05-03" is date=2024-05-03, not a range.
        out[fld] = ops["gte"] if ops.keys() == {"gte", "lte"} and ops["gte"] == ops["lte"] else ops
    return out


def _search_text(r: _Reading) -> str:
    cut = sorted((f.start, f.end) for f in r.found if f.remove and f.end > f.start)
    keep, pos = [], r.body
    for start, end in cut:
        if end > pos:
            keep.append(r.text[pos:max(pos, start)])
            pos = end
    return _tidy(" ".join(keep + [r.text[pos:]]))


_TRAIL_WORDS = ("that", "which", "who", "and", "or", "a", "an", "the", "by", "with", "for")
_TRAIL_MARKS = r"[\s,;:?!.\-–]"
# Dangling words and marks at the end of the search text. A match never starts right after one
# of them (the lookbehinds): the match from the first of a run is found first anyway, and
# retrying after each one of a long run that does not reach the end took quadratic time.
_TRAIL = re.compile("".join(rf"(?<!\b{w})" for w in _TRAIL_WORDS) + rf"(?<!{_TRAIL_MARKS})"
                    rf"(?:\b(?:{'|'.join(_TRAIL_WORDS)})|{_TRAIL_MARKS})+$", I)


def _tidy(text: str) -> str:
    """Drop what a removed filter phrase leaves dangling: "about" before the topic, "that"
    after it. A trailing "from" is kept ("where coffee comes from")."""
    text = re.sub(r"\s+", " ", text)
    lead = re.compile(rf"^(?:(?:{lex.CONNECTORS})\b|[\s,;:?!.\-–])+", I)
    text = _TRAIL.sub("", lead.sub("", text)).strip()
    # What is left of "the best new documentaries of 2024" is praise, not a topic.
    return "" if all(w.lower() in lex.FILLER for w in re.findall(r"[\w']+", text)) else text


def _route(r: _Reading, hint: str | None) -> Route:
    body = r.text[r.body:]
    clauses = [c for c in re.split(r"[,.!?;]+", r.text) if c.strip()]
    if clauses and all(lex.CHITCHAT.fullmatch(c.strip()) for c in clauses):
        return "chitchat"
    # "docs", "pieces", "shows" also mean doctors, parts and verbs: alone they do not outvote clinical words.
    head_noun = any(r.in_head(m.start("w")) and r.free(*m.span("w")) and m["w"].lower() not in lex.AMBIGUOUS_TYPES
                    for m in lex.TYPE_RE.finditer(r.text))
    if head_noun:
        return "catalog"
    if any(r.free(*m.span()) for m in lex.NOTES_SIGNAL.finditer(body)):
        return "notes"
    if hint is None and r.protected:
        return "catalog"  # a known title is named
    return "notes" if hint == "notes" else "catalog"


def understand(question: str, *, today: dt.date, collection_hint: str | None = None,
               vocabulary: Vocabulary | None = None) -> QueryPlan:
    """Read one question into a QueryPlan. Deterministic: same inputs, same plan. QueryError
    for an empty question or one longer than MAX_QUESTION_CHARS."""
    if isinstance(question, str) and len(question) > MAX_QUESTION_CHARS:
        raise QueryError(f"question is {len(question)} characters long, over the limit of {MAX_QUESTION_CHARS}; "
                         f"shorten it to the part you want answered")
    if not isinstance(question, str) or not question.strip():
        raise QueryError(f"empty question {question!r}; ask something, e.g. 'documentaries about bees'")
    if collection_hint not in (None, "catalog", "notes"):
        raise QueryError(f"unknown collection hint {collection_hint!r}; use 'catalog', 'notes' or None")
    r = _Reading(question, vocabulary)
    route = _route(r, collection_hint)
    if route == "chitchat":
        return QueryPlan("chitchat", {}, "", (), question)
    similar = None
    if route == "catalog":
        for rule in (_people, _genres, _types, _languages, _duration_and_rating):
            rule(r)
        similar = _similar(r)
    else:
        _notes_fields(r)
    _times(r, today, route)
    head = r.text[r.body:r.head_end]
    plural = any(lex.match_type(m["w"])[1] for m in lex.TYPE_RE.finditer(head)) or lex.PLURAL_GENRES.search(head)
    if route == "catalog" and ((re.match(r"\s*the\s", head + " ", I) and not plural) or _names_one_item(r)):
        spans = (Span(question[r.body:], (r.body, len(question)), "ignored: a lookup of one item, no filters"),)
        return QueryPlan(route, {}, question[r.body:].strip(" ?!.,"), spans, question, lookup=True)
    r.found.sort(key=lambda f: (f.start, f.end))
    # One span per phrase: a range found as two bounds ("gte", "lte") is traced once.
    spans = tuple(dict.fromkeys(Span(question[f.start:f.end], (f.start, f.end), f.became) for f in r.found))
    return QueryPlan(route, _merge(r.found), _search_text(r), spans, question, similar_to=similar)
