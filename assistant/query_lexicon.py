"""The words query understanding knows: a fixed lexicon (content types, fiction genres,
language names, clinical signals, comparatives, number words) and the `Vocabulary` of one
collection (its types, genres, languages, titles, people, note types, authors, patients).

The lexicon is what any catalog means by "docs", "sci-fi" or "in Spanish"; the vocabulary is
what *this* catalog contains, so the parser (assistant/query.py, whose docstring numbers the
rules referred to here) emits values that exist, protects titles and recognises full names.
Surface forms are regex fragments; everything is compiled once, at import.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from knowledge.errors import CairnError
from knowledge.types import Document

if TYPE_CHECKING:
    from knowledge.index import KnowledgeBase

I = re.IGNORECASE


class QueryError(CairnError):
    """A question or a query-understanding input that cannot be used as given."""


def alternation(forms: Iterable[str]) -> str:
    """Longest first, so "tv series" wins over "series" and "science fiction" over "fiction"."""
    return "|".join(sorted(forms, key=len, reverse=True))


# --- content types -----------------------------------------------------------------------

# (form, types, plural). Plural matters for rule 3: "the documentaries of 2020" is a list, "the
# documentary about a tightrope walk" one item. Singular "doc" is left out (a doctor, in notes).
TYPE_FORMS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (r"(?:tv|television)\s+(?:series|shows?)", ("series",), True), (r"mini-?series", ("series",), True),
    (r"series|séries?|serie", ("series",), True), (r"shows", ("series",), True), (r"show", ("series",), False),
    (r"sitcoms?", ("series",), True),
    (r"feature\s+films?|movies|films|flicks|películas|filmes", ("film",), True),
    (r"movie|film|flick|película", ("film",), False),
    (r"documentaries|docs|documentales|documentaires", ("documentary",), True),
    (r"documentary|documental|documentaire", ("documentary",), False),
    (r"podcasts|pódcasts", ("podcast",), True), (r"podcast", ("podcast",), False),
    (r"articles|essays|pieces|long[\s-]?reads|blog\s+posts|artículos", ("article",), True),
    (r"article|essay|piece|long[\s-]?read|blog\s+post|artículo", ("article",), False),
    # A medium named by what one does with it; "something to watch" is any watchable type.
    (r"(?:(?:something|anything|stuff)\s+(?:good\s+|new\s+)?)?to\s+watch", ("documentary", "series", "film"), True),
    (r"(?:(?:something|anything)\s+(?:good\s+)?)?to\s+(?:listen\s+to|hear)", ("podcast",), True),
    (r"(?:(?:something|anything)\s+(?:good\s+)?)?to\s+read", ("article",), True),
)
# A determiner is part of the phrase, so "a documentary about bees" leaves "about bees".
TYPE_RE = re.compile(rf"\b(?:(?:a|an|some|any|more|des|los|las|les|un|une|the)\s+)?"
                     rf"(?P<w>{alternation(f for f, _, _ in TYPE_FORMS)})\b", I)
# "docs", "pieces", "shows" also mean doctors, parts and a verb: they do not outvote clinical words.
AMBIGUOUS_TYPES = frozenset(("docs", "pieces", "piece", "show", "shows"))


def match_type(word: str) -> tuple[tuple[str, ...], bool]:
    for form, types, plural in TYPE_FORMS:
        if re.fullmatch(form, word, I):
            return types, plural
    raise AssertionError(f"type alternation and table disagree on {word!r}")


# --- genres ------------------------------------------------------------------------------

# Fiction/form genres only. Subject tags in the catalog (nature, science, history, food, travel,
# music, ...) are deliberately absent: they describe topics, which the retrievers match by
# meaning, and filtering on a coarse tag would drop relevant items tagged otherwise ("nature
# documentaries like Planet Earth" - the golden set agrees).
GENRE_FORMS: dict[str, tuple[str, ...]] = {
    "comedy": ("comedies", "comedy", "comedic"), "drama": ("dramas", "drama"),
    "horror": ("horror",), "thriller": ("thrillers", "thriller"), "western": ("westerns", "western"),
    "film noir": (r"films?[\s-]noirs?", "noirs?"), "science fiction": (r"science[\s-]fiction", r"sci[\s-]?fi"),
    "fantasy": ("fantasy",), "romance": ("romances", "romance", "romantic"), "mystery": ("mysteries", "mystery"),
    "action": ("action",), "adventure": ("adventures", "adventure"), "animation": ("animated", "animation"),
    "musical": ("musicals", "musical"), "crime": ("crime",), "war": ("war",), "family": ("family",),
    "biography": ("biopics?", "biographical"), "experimental": ("experimental",),
}
GENRE_INDEX = {form: genre for genre, forms in GENRE_FORMS.items() for form in forms}
GENRE_RE = re.compile(rf"\b(?P<w>{alternation(GENRE_INDEX)})\b", I)
PLURAL_GENRES = re.compile(r"comedies|dramas|thrillers|westerns|noirs|romances|mysteries|adventures|musicals|"
                           r"biopics", I)
# Singular genre words that can stand alone as a noun ("a western", "horror from Japan"). The rest
# ("action", "crime", "war", "family", adjectives) count only on a type or genre noun: "war films"
# but not "war of ...", "a family of ...".
STANDALONE_GENRES = re.compile(r"comedy|drama|horror|thriller|western|films?[\s-]noirs?|noirs?|science[\s-]fiction|"
                               r"sci[\s-]?fi|fantasy|romance|mystery|adventure|animation|musical", I)
# Compounds in which a genre word names a topic: "true crime", "the Cold War", "climate action".
GENRE_BLOCKERS = re.compile(r"\b(?:(?:true|organi[sz]ed|white[\s-]collar|hate|war)\s+crime|"
                            r"(?:civil|cold|world|trade|drug|culture|class|vietnam|korean|gulf|great|price)\s+war|"
                            r"(?:climate|direct|class|legal)\s+action)\b", I)


def genre_of(word: str) -> str:
    return next(g for f, g in GENRE_INDEX.items() if re.fullmatch(f, word, I))


# --- languages ---------------------------------------------------------------------------

# Names as users write them → ISO 639-1, the catalog's codes. Wider than the catalog on purpose:
# "films in Swahili" must become language=sw so the answer is "none", not unfiltered noise.
LANGUAGES: dict[str, str] = {
    "english": "en", "french": "fr", "spanish": "es", "castilian": "es", "german": "de", "italian": "it",
    "japanese": "ja", "korean": "ko", "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "russian": "ru",
    "swedish": "sv", "portuguese": "pt", "danish": "da", "persian": "fa", "farsi": "fa", "polish": "pl",
    "bengali": "bn", "bangla": "bn", "thai": "th", "czech": "cs", "hungarian": "hu", "arabic": "ar",
    "romanian": "ro", "turkish": "tr", "georgian": "ka", "finnish": "fi", "hindi": "hi", "swahili": "sw",
    "dutch": "nl", "norwegian": "no", "greek": "el", "hebrew": "he", "urdu": "ur", "tamil": "ta", "telugu": "te",
    "vietnamese": "vi", "indonesian": "id", "tagalog": "tl", "ukrainian": "uk", "catalan": "ca", "icelandic": "is",
    "irish": "ga", "welsh": "cy", "yoruba": "yo", "zulu": "zu", "amharic": "am", "malay": "ms", "punjabi": "pa",
    "français": "fr", "francais": "fr", "español": "es", "espanol": "es", "deutsch": "de", "italiano": "it",
    "português": "pt", "anglais": "en", "inglés": "en", "ingles": "en", "japonais": "ja", "japonés": "ja",
}
LANG_ALT = alternation(re.escape(n) for n in LANGUAGES)
# "in French", "en français", "in French or Spanish", "in the Korean language".
LANG_IN = re.compile(rf"\b(?:in|en|auf)\s+(?:the\s+)?(?P<langs>(?:{LANG_ALT})(?:\s*(?:,|or|and|/)\s*(?:{LANG_ALT}))*)"
                     rf"(?:\s+language)?(?!\w)", I)
# "French-language", "Spanish-speaking", or a bare adjective the parser checks for a noun after it.
LANG_ADJ = re.compile(rf"\b(?P<langs>{LANG_ALT})(?:[\s-](?:language|speaking))?(?!\w)", I)

# --- cues, routes and clauses --------------------------------------------------------------

CREATOR_CUE = re.compile(r"(?:(?:directed|created|written|made|produced|hosted|presented|authored)\s+by|by|from)"
                         r"\s+$", I)
CAST_CUE = re.compile(r"(?:starring|featuring|with|narrated\s+by|voiced\s+by|played\s+by)\s+$", I)
SIMILAR_CUE = re.compile(r"(?:like|similar\s+to|in\s+the\s+(?:vein|style)\s+of)\s+$", I)
# A quoted title: opening quote after a space, closing quote before a space or punctuation, so
# apostrophes ("Schindler's") and "'90s" are not quotes. The title is everything up to the next
# quote mark, taken possessively (`++`): a shorter title would end before a non-quote character,
# which can never close it, and retrying every shorter split made one unclosed quote cost time
# quadratic in the question's length.
QUOTED = re.compile(r"(?:(?<=\s)|^)([\"“‘'])(?P<t>[^\"“”‘’']++)[\"”’'](?=[\s?.!,;:]|$)")
# "patient pt_0003", "patient #12", "pt 12", or a bare "pt_0003".
PATIENT_ID = re.compile(r"\b(?:(?:patient|pt)(?:\s+id)?(?:\s*[#:]\s*|\s+)(?P<id>[a-z]*[_-]?\d+)"
                        r"|(?P<bare>[a-z]+_\d+))\b", I)
# What precedes an author's name and goes with it: "by Dr.", "written by", "from".
AUTHOR_CUE = re.compile(r"(?:(?:(?:written|signed|seen)\s+)?by\s+|from\s+)?(?:dr\.?\s+|doctor\s+)?$", I)
NOTE_TYPES_DEFAULT = ("progress note", "discharge summary", "consult note", "clinic visit", "follow-up visit",
                      "telephone encounter", "ED note", "urgent care note", "history and physical", "operative note")
# Words only clinical questions use. "Treatment" or "drugs" do not count, and a catalog noun in
# the head wins first anyway ("documentaries about diabetes medications").
NOTES_SIGNAL = re.compile(r"\b(?:patients?|pt_\d+|notes?|charts?|medications?|meds|prescri\w+|doses?|dosages?|"
                          r"dosing|mg|mcg|symptoms?|vitals?|blood\s+pressure|heart\s+rate|diagnos\w+|allerg\w+|labs?|"
                          r"imaging|x-?rays?|cxr|discharged?|admitted|admissions?|follow-?ups?|encounters?|consults?|"
                          r"complain\w*|started\s+on|side\s+effects?|temperature|spo2)\b", I)
# One chit-chat clause; a question is chit-chat when every clause is one ("ok, thanks!").
CHITCHAT = re.compile(r"(?:hi|hello|hey|hiya|yo|good\s+(?:morning|afternoon|evening|night)|thanks?(?:\s+you)?"
                      r"(?:\s+(?:so|very)\s+much)?|thx|cheers|ok(?:ay)?|cool|great|nice|perfect|bye|goodbye|see\s+you|"
                      r"who\s+are\s+you|what\s+are\s+you|what\s+can\s+you\s+do|how\s+are\s+you(?:\s+doing)?|"
                      r"what(?:'s|\s+is)\s+your\s+name|help)(?:\s+(?:there|cairn|again|a\s+lot|all))?", I)
# Politeness and request verbs before the content; they carry no filter and no topic.
OPENER = re.compile(r"^\s*(?:(?:hi|hello|hey)\b[\s,!.]*)?(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?"
                    r"(?:(?:show|give|find|get|recommend|suggest|list)(?:\s+(?:me|us))?|tell\s+me\s+about|"
                    r"i(?:'m|\s+am)\s+looking\s+for|looking\s+for|i\s+(?:want|need)|i'?d\s+like|i\s+would\s+like|"
                    r"where\s+can\s+i\s+find|do\s+you\s+have|are\s+there|is\s+there|any)?\b[\s,]*"
                    r"(?:(?:some|any)\s+)?", I)
# First word of the topic clause (rule 2), English plus the French/Spanish/German "about".
TOPIC = re.compile(r"\b(?:about|on|regarding|concerning|covering|set\s+(?:in|during|on|at|among|before|after)|where|"
                   r"in\s+which|that|which|who|whose|featuring|with|for|like|similar\s+to|explaining|exploring|"
                   r"showing|sur|sobre|über)\b", I)
# Words that may follow a filter phrase without making it a modifier of a noun ("in Spanish
# about jazz" vs "in Spanish schools"; "from the 1990s" vs "from the 1990s Balkan wars").
BOUNDARY = frozenset(("about on from in with by for that which who where set like and or but please released made "
                      "published premiered launched aired since before after until between during of to starring "
                      "featuring directed explaining exploring showing sur sobre y et only rated under over less "
                      "more at shorter longer than subtitled dubbed is are were was the a an").split())
# A year right before one of these dates an event, which is a topic: "the 2008 crisis".
EVENT_NOUNS = frozenset("problem crisis crash war wars election elections olympics bug era recession riots earthquake "
                        "tsunami flood floods attack attacks revolution pandemic games cup uprising strike".split())
# Search text made only of these words is empty: "the best new documentaries" leaves praise, no topic.
FILLER = frozenset(("what what's whats which are is were was some any a an the good great best top new newest latest "
                    "nice interesting really me us please tonight now").split())
# Words left dangling at the start of the search text once filter phrases are cut out.
CONNECTORS = (r"what(?:'s)?|which|about|on|of|from|in|with|that|who|for|like|similar\s+to|and|or|sur|sobre|des|de|en|"
              r"a|an|some|any|more|me|by|are|is|please|released|made|published|premiered|launched|aired|take|takes")

# --- numbers and comparisons (duration, rating) --------------------------------------------

NUM_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen "
                                        "fourteen fifteen sixteen seventeen eighteen nineteen".split())}
NUM_WORDS |= {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
              if i > 1}
NUM_WORDS |= {"a": 1, "an": 1, "hundred": 100, "a hundred": 100}
# A digit run is read whole and from its first digit: no number is followed by a digit, so
# shorter readings cannot match, and retrying them at every digit of a long run took time
# quadratic in its length.
NUM = (r"(?<!\d)\d++(?:\.\d++)?|half\s+an?|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
       r"(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?|" + alternation(NUM_WORDS))
# "under 90 minutes" is lte (the brief's reading: runtimes are quoted as upper limits), "less
# than five minutes" lt (the golden set's); each phrase keeps its own strictness.
CMP = {"less than": "lt", "fewer than": "lt", "shorter than": "lt", "below": "lt", "lower than": "lt", "under": "lte",
       "at most": "lte", "no more than": "lte", "no longer than": "lte", "up to": "lte", "within": "lte",
       "or less": "lte", "or shorter": "lte", "or under": "lte", "or lower": "lte", "or below": "lte",
       "more than": "gt", "longer than": "gt", "over": "gt", "above": "gt", "higher than": "gt", "greater than": "gt",
       "better than": "gt", "at least": "gte", "or more": "gte", "or longer": "gte", "or higher": "gte",
       "or above": "gte", "or better": "gte", "or over": "gte"}
CMP_RE = alternation(k for k in CMP if not k.startswith("or ")).replace(" ", r"\s+")
_UNIT = r"minutes?|mins?|hours?|hrs?"
DURATION = re.compile(rf"(?:(?:that|which)\s+)?(?:(?:takes?|lasts?|lasting|runs?|running|is|are)\s+)?"
                      rf"(?P<cmp>{CMP_RE})\s+"
                      rf"(?P<num>{NUM})(?P<half>\s+and\s+a\s+half)?\s*(?P<unit>{_UNIT}|h)\b"
                      rf"(?P<half2>\s+and\s+a\s+half)?(?:\s+long)?"
                      rf"|(?P<num2>{NUM})\s*(?P<unit2>{_UNIT})\s+"
                      rf"(?P<cmp2>or\s+(?:less|shorter|under|more|longer|over))\b", I)
_RATING_WORDS = "|".join(w for w, n in NUM_WORDS.items() if 0 < n <= 10 and len(w) > 2)  # not "a"/"an"
RATING = re.compile(rf"(?:(?:rated|ratings?|scored?|scoring)(?:\s+of)?|with\s+a\s+rating(?:\s+of)?)\s+"
                    rf"(?:(?P<cmp>{CMP_RE})\s+)?(?P<num>\d+(?:\.\d+)?|{_RATING_WORDS})(?P<plus>\+)?"
                    r"(?:\s*(?:/|out\s+of)\s*10)?"
                    r"(?:\s+(?P<cmp2>or\s+(?:higher|more|above|better|over|lower|less|below|worse)))?", I)


def number(text: str) -> float:
    """"5" → 5, "five" → 5, "forty-five" → 45, "an" → 1, "half an" → 0.5."""
    words = " ".join(text.lower().replace("-", " ").split())
    if re.fullmatch(r"\d+(?:\.\d+)?", words):
        return float(words)
    if words.startswith("half"):
        return 0.5
    return float(NUM_WORDS[words] if words in NUM_WORDS else sum(NUM_WORDS[w] for w in words.split()))


def fold(text: str) -> str:
    """Lowercase without accents, one character per character (offsets stay valid):
    "Yasujirō" → "yasujiro", so users may type names either way."""
    return "".join(unicodedata.normalize("NFKD", c)[0] for c in text).lower()


# Words that cannot make a title worth protecting on their own ("A Movie", "It", "Western").
COMMON_WORDS = (frozenset(w for form, _, _ in TYPE_FORMS for w in re.findall(r"[a-z]+", form))
                | frozenset(re.findall(r"[a-z]+", " ".join(GENRE_INDEX))) | frozenset(LANGUAGES) | BOUNDARY
                | frozenset(("a an the this last recent new year years month week today yesterday it us her him them "
                             "up out what when why how i you me we they my your all any some most one can do does did "
                             "be to too so no not yes here there now then again best good great something anything "
                             "show tell find give").split()))


# --- vocabulary -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Vocabulary:
    """What a collection actually contains, so the parser emits values that exist and can
    protect titles and recognise people. Build it from a catalog file, an ingested collection,
    or plain metadata records; `a | b` merges a catalog and a notes vocabulary."""

    types: frozenset[str] = frozenset()
    genres: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    titles: Mapping[str, str] = field(default_factory=dict)  # title → type, for rule 1 and "like X"
    people: Mapping[str, frozenset[str]] = field(default_factory=dict)  # name → {"creators", "cast"}
    note_types: frozenset[str] = frozenset()
    authors: frozenset[str] = frozenset()
    patient_ids: frozenset[str] = frozenset()

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> "Vocabulary":
        sets: dict[str, set[str]] = {k: set() for k in ("types", "genres", "languages", "note_types", "authors",
                                                        "patient_ids")}
        titles: dict[str, str] = {}
        people: dict[str, set[str]] = {}
        for r in records:
            for key, name, lower in (("type", "types", True), ("language", "languages", True),
                                     ("note_type", "note_types", False), ("author", "authors", False),
                                     ("patient_id", "patient_ids", False)):
                if r.get(key):
                    value = str(r[key]).strip()
                    sets[name].add(value.lower() if lower else value)
            sets["genres"].update(str(g).strip().lower() for g in r.get("genres") or ())
            if r.get("title") and r.get("type"):
                titles[str(r["title"]).strip()] = str(r["type"]).strip().lower()
            for role in ("creators", "cast"):
                for person in r.get(role) or ():
                    # One-word "names" are parsing debris in real data ("French", "Jones"); a
                    # person filter needs a full name to be safe to apply.
                    if len(str(person).split()) >= 2:
                        people.setdefault(str(person).strip(), set()).add(role)
        return cls(**{k: frozenset(v) for k, v in sets.items()}, titles=titles,
                   people={p: frozenset(r) for p, r in people.items()})

    @classmethod
    def from_file(cls, path: str | Path, collection: str) -> "Vocabulary":
        from knowledge.loaders import iter_documents  # ingest's loaders: same fields, same coercion

        docs = [d for d in iter_documents([path], collection) if isinstance(d, Document)]
        if not docs:
            raise QueryError(f"no {collection} records could be read from {path}; check that the path exists "
                             f"and holds {collection} records in a DESIGN.md §2 format")
        return cls.from_records(d.metadata for d in docs)

    @classmethod
    def from_knowledge_base(cls, kb: "KnowledgeBase") -> "Vocabulary":
        """From an ingested collection's chunk metadata (no model is loaded)."""
        _, metadatas = kb.store.corpus_metadata()
        if not metadatas:
            raise QueryError(f"collection {kb.collection!r} is empty; ingest it first (`cairn ingest`)")
        return cls.from_records(metadatas)

    def __or__(self, other: "Vocabulary") -> "Vocabulary":
        return Vocabulary(self.types | other.types, self.genres | other.genres, self.languages | other.languages,
                          {**self.titles, **other.titles}, {**self.people, **other.people},
                          self.note_types | other.note_types, self.authors | other.authors,
                          self.patient_ids | other.patient_ids)

    @cached_property
    def title_pattern(self) -> re.Pattern[str] | None:
        """Case-sensitive: "Last Stop" is a title, "the last stop" is not. Titles made only of
        common words ("A Movie") are left out, or they would swallow ordinary phrases."""
        usable = [t for t in self.titles
                  if len(t) >= 3 and any(w not in COMMON_WORDS for w in re.findall(r"\w+", t.lower()))]
        return re.compile(rf"(?<!\w)(?:{alternation(map(re.escape, usable))})(?!\w)") if usable else None

    @cached_property
    def people_pattern(self) -> tuple[re.Pattern[str], dict[str, str]] | None:
        """Over folded text (see `fold`): folded name → the name as stored."""
        names = {fold(p): p for p in self.people}
        if not names:
            return None
        return re.compile(rf"(?<!\w)(?:{alternation(map(re.escape, names))})(?!\w)"), names

    @cached_property
    def author_pattern(self) -> tuple[re.Pattern[str], dict[str, list[str]]] | None:
        """Authors are stored as "Dr. Rosa Harper" or "Ruth Ashworth, PA-C"; users type the name.
        Folded core name → every stored author string with that core."""
        cores: dict[str, list[str]] = {}
        for author in sorted(self.authors):
            core = re.sub(r",.*$", "", re.sub(r"^(?:dr\.?|doctor)\s+", "", author, flags=I)).strip()
            if len(core.split()) >= 2:
                cores.setdefault(fold(core), []).append(author)
        if not cores:
            return None
        return re.compile(rf"(?<!\w)(?:{alternation(map(re.escape, cores))})(?!\w)"), cores
