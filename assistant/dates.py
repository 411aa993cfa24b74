"""Time phrases in a question → closed date ranges, resolved against an explicit `today`.

    "from the last year"         → 2025-11-22 .. 2026-11-22   (day grain: rolling window)
    "last year" / "this year"    → 2025-01-01 .. 2025-12-31   (year grain: calendar)
    "before 1960"                → .. 1959-12-31              (year grain, closed: lte 1959)
    "in the late 90s"            → 1996-01-01 .. 1999-12-31
    "since October 2026"         → 2026-10-01 ..              (month grain)

Every range is closed (both ends inclusive), the convention of the demo golden set
(`evals/golden/README.md`: "westerns made before 1960" is `year lte 1959`), so a phrase has
exactly one encoding. The grain says how precise the phrase was: the query parser turns a
year-grain range into a filter on the `year` field (every catalog item has one) and finer
ranges into one on `released`/`date`.

The finder reports what introduced each phrase (its cue) instead of judging context: "in
the 1990s" after "set" is a story setting, "about the year 2000 problem" has no cue at all,
and whether "in 2003" inside an about-clause is a release date is the parser's call
(assistant/query.py). `today` is always a parameter, never `date.today()`: plans must be
reproducible, and the golden set's relative dates are pinned to 2026-11-22.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable, Literal

from knowledge.errors import CairnError

Grain = Literal["day", "month", "year"]
# release: a release verb or a preposition that only dates things ("from", "since", "before")
# weak:    "in", "during", "of" - also how topics are dated ("the war in 2003")
# relative: "recent", "the last year", "this month" - always about the item itself
# bare:    a year or decade with no cue ("90s sitcoms", "the 2008 crisis")
# setting: after "set in"/"takes place in": when the story happens, never a filter
Cue = Literal["release", "weak", "relative", "bare", "setting"]


class DateRangeError(CairnError):
    """A date range that cannot exist (start after end) or a `today` that is not a date."""


@dataclass(frozen=True)
class DateRange:
    """Closed interval; None is an open end."""
    start: dt.date | None
    end: dt.date | None
    grain: Grain

    def __post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise DateRangeError("a date range needs a start or an end; both are None")
        if self.start and self.end and self.start > self.end:
            raise DateRangeError(f"date range starts {self.start} after it ends {self.end}; swap the bounds")


@dataclass(frozen=True)
class TimePhrase:
    start: int  # character span in the question
    end: int
    text: str
    range: DateRange
    cue: Cue


# --- calendar arithmetic (pure) ----------------------------------------------------------

def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def shift_months(day: dt.date, months: int) -> dt.date:
    """Same day-of-month `months` later (negative: earlier), clamped to the month's last day:
    2026-03-31 minus one month is 2026-02-28, not an error and not March 3rd."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def shift_years(day: dt.date, years: int) -> dt.date:
    """One year before 2024-02-29 is 2023-02-28 (clamped), so "the last year" stays 1 year long."""
    return shift_months(day, 12 * years)


def rolling(today: dt.date, n: int, unit: str) -> DateRange:
    """The last n units up to and including today ("in the past 3 months")."""
    if unit == "day":
        start = today - dt.timedelta(days=n)
    elif unit == "week":
        start = today - dt.timedelta(weeks=n)
    else:
        start = shift_months(today, -n * (12 if unit == "year" else 1))
    return DateRange(start, today, "day")


def calendar_period(today: dt.date, unit: str, offset: int) -> DateRange:
    """This (offset 0) or the previous (offset -1) calendar year, month or ISO week (Mon-Sun)."""
    if unit == "year":
        return DateRange(dt.date(today.year + offset, 1, 1), dt.date(today.year + offset, 12, 31), "year")
    if unit == "month":
        first = shift_months(today.replace(day=1), offset)
        return DateRange(first, month_end(first.year, first.month), "month")
    monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=offset)
    return DateRange(monday, monday + dt.timedelta(days=6), "day")


def decade_years(first_year: int, part: str | None) -> tuple[int, int]:
    """1990 → (1990, 1999); "early" = years 0-3, "mid" = 3-6, "late" = 6-9 (overlapping on
    purpose: nobody agrees whether 1993 is early or mid)."""
    lo, hi = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get((part or "").lower(), (0, 9))
    return first_year + lo, first_year + hi


def two_digit_decade(digits: int, today: dt.date) -> int:
    """"the 90s" is the 1990s; "the 10s" the 2010s; "the 20s" the 1920s while the 2020s are
    still running (in 2026 "films from the 20s" means the jazz age). Rule: the latest
    *completed* decade ending in these digits."""
    return 2000 + digits if 2000 + digits + 9 < today.year else 1900 + digits


# --- the phrase grammar ------------------------------------------------------------------

_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_DECADE_WORDS = {"twenties": 20, "thirties": 30, "forties": 40, "fifties": 50, "sixties": 60, "seventies": 70,
                 "eighties": 80, "nineties": 90}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS["sept"] = 9

_VERBS = (r"released|made|published|premiered|premiering|launched|aired|airing|produced|filmed|shot|recorded|"
          r"written|came\s+out|come\s+out|dated|seen|started|issued")
_PREPS = (r"in|during|of|on|from|since|after|before|until|till|through|up\s+to|prior\s+to|newer\s+than|"
          r"older\s+than|between")
# A verb, a preposition, or both ("made before", "released in"); captured as one group.
_CUE = rf"(?:(?P<cue>(?:(?:{_VERBS})\s+)?(?:{_PREPS})|{_VERBS})\s+)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)(?![\d'’]?s\b)(?!-\d\d(?!\d))"  # not "1990s", not the year of "2026-02-30"
_DECADE = (r"(?:(?:early|mid|late)[\s-]*)?(?:(?:1[89]|20)\d0['’]?s|['’]?\d0['’]?s|"
           r"twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)")
_POINT = rf"(?:(?:the\s+)?{_DECADE}|(?:the\s+year\s+)?{_YEAR})"
_TAIL = (r"(?:\s+(?P<tail>or\s+later|or\s+after|or\s+newer|and\s+later|and\s+after|onwards?|"
         r"or\s+earlier|or\s+before|and\s+earlier|or\s+older))?")
_N = r"\d+|" + "|".join(_NUMBER_WORDS)
_B, _E = r"(?<![\w'’])", r"(?![\w'’])"  # word edges that also treat '90s as one token

_PATTERNS: dict[str, re.Pattern[str]] = {name: re.compile(_B + body + _E, re.IGNORECASE) for name, body in {
    "between": rf"(?P<cue>(?:(?:{_VERBS})\s+)?(?:between|from))\s+(?P<a>{_POINT})"
               rf"\s*(?:and|to|until|till|through|-|–)\s*(?P<b>{_POINT})",
    "span": rf"{_CUE}(?P<a>{_YEAR})\s*(?:-|–|to)\s*(?P<b>{_YEAR})",
    "rolling": rf"{_CUE}(?P<the>the\s+)?(?P<which>last|past|previous)\s+(?:(?P<n>{_N})\s+)?"
               rf"(?P<unit>day|week|month|year)s?",
    "calendar": rf"{_CUE}(?P<which>this|last)\s+(?P<unit>year|month|week)(?:['’]s)?",
    "dayword": rf"{_CUE}(?P<word>today|yesterday)(?:['’]s)?",
    "recent": r"(?P<word>recent|recently|lately)",
    "month": rf"{_CUE}(?P<month>{'|'.join(_MONTHS)})(?:\s+(?P<year>{_YEAR}))?",
    "iso": rf"{_CUE}(?P<date>\d{{4}}-\d{{2}}-\d{{2}})",
    "prepost": rf"(?P<cue>pre|post)-(?P<a>{_POINT})",
    "point": rf"{_CUE}(?P<a>{_POINT}){_TAIL}",
}.items()}
_POINT_PARTS = re.compile(rf"(?:the\s+)?(?:(?P<part>early|mid|late)[\s-]*)?"
                          rf"(?:(?P<d4>(?:1[89]|20)\d0)['’]?s|['’]?(?P<d2>\d0)['’]?s|"
                          rf"(?P<dw>{'|'.join(_DECADE_WORDS)})|(?:the\s+year\s+)?(?P<y>\d{{4}}))$", re.IGNORECASE)
_SETTING = re.compile(r"\b(?:set|takes?\s+place|taking\s+place|happen(?:s|ed|ing)?|occur(?:s|red|ring)?|unfolds?|"
                      r"unfolding)\s+$", re.IGNORECASE)
_STRONG_PREPS = {"from", "since", "after", "before", "until", "till", "through", "up to", "prior to", "newer than",
                 "older than", "between", "pre", "post"}


def _preposition(cue: str | None) -> str:
    """The preposition of a cue with its verb stripped: "made before" → "before"."""
    return re.sub(rf"^(?:{_VERBS})\s*", "", " ".join((cue or "").lower().split()))


def _cue_kind(cue: str | None) -> Cue:
    if not cue:
        return "bare"
    prep = _preposition(cue)
    has_verb = prep != " ".join(cue.lower().split())
    # "released in 2003" dates the item; plain "in 2003" may date the topic ("the war in 2003").
    return "release" if has_verb or prep in _STRONG_PREPS else "weak"


def _point_years(text: str, today: dt.date) -> tuple[int, int]:
    """A year or decade phrase → (first year, last year)."""
    m = _POINT_PARTS.match(" ".join(text.split()))
    assert m, f"grammar and point parser disagree on {text!r}"
    if m["y"]:
        return int(m["y"]), int(m["y"])
    first = int(m["d4"]) if m["d4"] else (_DECADE_WORDS[m["dw"].lower()] if m["dw"] else int(m["d2"]))
    if first < 100:
        first = two_digit_decade(first, today)
    return decade_years(first, m["part"])


def _years(lo: int, hi: int) -> DateRange:
    return DateRange(dt.date(lo, 1, 1), dt.date(hi, 12, 31), "year")


def _apply_cue(cue: str | None, rng: DateRange, tail: str | None = None) -> DateRange:
    """Bend a period by its preposition: since → from its start on, after → from the day after
    its end, before → up to the day before its start, until → up to its end. A tail ("2025 or
    later") wins over the cue."""
    word = _preposition(cue)
    tail = " ".join((tail or "").lower().split())
    assert rng.start and rng.end, "cues apply to closed periods"
    if tail in ("or later", "or after", "or newer", "and later", "and after", "onward", "onwards") or word == "since":
        return DateRange(rng.start, None, rng.grain)
    if tail in ("or earlier", "or before", "and earlier", "or older"):
        return DateRange(None, rng.end, rng.grain)
    if word in ("after", "newer than", "post"):
        return DateRange(rng.end + dt.timedelta(days=1), None, rng.grain)
    if word in ("before", "prior to", "older than", "pre"):
        return DateRange(None, rng.start - dt.timedelta(days=1), rng.grain)
    if word in ("until", "till", "through", "up to"):
        return DateRange(None, rng.end, rng.grain)
    return rng


def _resolve(name: str, m: re.Match[str], today: dt.date) -> tuple[DateRange, Cue] | None:
    """One grammar match → its range and cue kind, or None when the match is not a time
    phrase after all (e.g. "last year" matched by the rolling pattern, which needs "the")."""
    g = m.groupdict()
    cue = g.get("cue")
    if name in ("between", "span"):
        (a0, _), (_, b1) = _point_years(g["a"], today), _point_years(g["b"], today)
        lo, hi = sorted((a0, b1))  # "between 2010 and 2000" means the same as the other way round
        return _years(lo, hi), ("release" if name == "between" else _cue_kind(cue))
    if name == "rolling":
        if g["which"].lower() == "last" and not g["the"] and not g["n"]:
            return None  # bare "last year" is the calendar year: the calendar pattern takes it
        n = g["n"].lower() if g["n"] else "1"
        return rolling(today, int(n) if n.isdigit() else _NUMBER_WORDS[n], g["unit"].lower()), "relative"
    if name == "calendar":
        period = calendar_period(today, g["unit"].lower(), 0 if g["which"].lower() == "this" else -1)
        return _apply_cue(cue, period), "relative"
    if name == "dayword":
        day = today - dt.timedelta(days=1 if g["word"].lower() == "yesterday" else 0)
        return _apply_cue(cue, DateRange(day, day, "day")), "relative"
    if name == "recent":
        # "recent" states recency but no window; one year is the narrowest reading that a
        # catalog of yearly releases can honour. Changing it is a one-line decision here.
        return rolling(today, 1, "year"), "relative"
    if name == "month":
        word = m["month"]
        if not g["year"] and (not cue or (word.lower() in ("may", "march") and word.islower()
                                          and _cue_kind(cue) != "release")):
            return None  # a month without a year needs a cue; "in may"/"of march" may be verbs
        month = _MONTHS[word.lower()]
        year = int(g["year"]) if g["year"] else (today.year if month <= today.month else today.year - 1)
        period = DateRange(dt.date(year, month, 1), month_end(year, month), "month")
        return _apply_cue(cue, period), _cue_kind(cue)
    if name == "iso":
        try:
            day = dt.date.fromisoformat(g["date"])
        except ValueError:
            return None  # 2026-02-30 is not a date; leave the text alone
        return _apply_cue(cue, DateRange(day, day, "day")), _cue_kind(cue)
    if name == "prepost":
        return _apply_cue(cue, _years(*_point_years(g["a"], today))), "release"
    return _apply_cue(cue, _years(*_point_years(g["a"], today)), g.get("tail")), _cue_kind(cue)


def find_time_phrases(text: str, today: dt.date, *, skip: Callable[[int, int], bool] = lambda s, e: False
                      ) -> list[TimePhrase]:
    """All time phrases, non-overlapping, leftmost-longest first. `skip(start, end)` vetoes a
    span before it can claim text (the parser passes protected titles)."""
    if not isinstance(today, dt.date):
        raise DateRangeError(f"today must be a datetime.date, got {today!r}; pass e.g. date(2026, 11, 22)")
    found: list[TimePhrase] = []
    for name, pattern in _PATTERNS.items():
        for m in pattern.finditer(text):
            if skip(m.start(), m.end()):
                continue
            resolved = _resolve(name, m, today)
            if resolved is None:
                continue
            rng, cue = resolved
            if _SETTING.search(text[:m.start()]):
                cue = "setting"
            found.append(TimePhrase(m.start(), m.end(), m.group(0), rng, cue))
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    chosen: list[TimePhrase] = []
    for phrase in found:
        if not chosen or phrase.start >= chosen[-1].end:
            chosen.append(phrase)
    return chosen
