"""The words a claim is made of, as the verifier and the context selection compare them: content
words (stopwords dropped, plurals folded) and canonical numbers. Pure functions, no model.

    content_words("The films' stories are about glaciers") == {"film", "story", "glacier"}
    numbers_in("1,000 people in 1979; dose 0.50 mg") == {"1000", "1979", "0.5"}
"""
from __future__ import annotations

import re

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either else ever few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself just
like many me more most much my myself neither no nor not now of off on once one only or other our ours
ourselves out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up upon us very was we were what when where
which while who whom whose why will with would yes you your yours yourself yourselves s t d ll m re ve
couldn didn doesn don hadn hasn haven isn wasn weren wouldn shouldn aren
""".split())
# Words of "lead-in" and courtesy sentences: a sentence made only of these asserts nothing.
META_WORDS = frozenset("""
answer answers based below context following found help helps hope information item items let list
know match matches option options question result results sources source summary sure glad thanks
overall mentioned listed include includes including
""".split())
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER_RE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")


def normalize_word(word: str) -> str:
    """A matching key: lowercase, plurals folded ("films" -> "film", "watches" -> "watch";
    "stories" and "story" -> "story", "movies" and "movie" -> "movy"). Only plurals: a full
    stemmer (Porter) would also merge "director" and "directed", more recall than a support
    check should have."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("ie"):  # movie/movies must meet at one key
        return word[:-2] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def content_words(text: str) -> set[str]:
    """Normalised words of `text` that carry content (stopwords removed; numbers kept)."""
    return {normalize_word(w) for w in _WORD_RE.findall(text) if w.lower() not in STOPWORDS}


def numbers_in(text: str) -> set[str]:
    """Numbers in `text`, canonical: "1,000" -> "1000", "05" -> "5", "100.2" -> "100.2"."""
    return {_canonical_number(raw.replace(",", "")) for raw in _NUMBER_RE.findall(text)}


def _canonical_number(value: str) -> str:
    if value.isdigit():
        return str(int(value))  # "05" (a date part) and "5" are one number
    return value.rstrip("0").rstrip(".")  # "100.20" -> "100.2", "2.0" -> "2"
