"""The follow-up interval: "Follow up in 2 weeks", "RTC 4 weeks", "f/u 6 weeks", "PCP in 48-72
hours", "Return to clinic in 1 month", "Follow up PRN".

    extract_follow_up("... Follow-up in 1 week, sooner if worse.") -> Evidence("1 week", ...)

A follow-up cue (or the FOLLOW-UP section header) must come first, then at most a few words
("with PCP", "in"), then an interval ("2 weeks", "48-72 hours", "7-10 days", "one month") or
"PRN"/"as needed". Only the interval is the value, as the golden form has it. The last match
wins: a plan's final follow-up sentence overrides an earlier one.
"""
from __future__ import annotations

import re

from .schema import Evidence
from .spans import evidence

_NUMBER = r"(?:\d+(?:\s*(?:-|to)\s*\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|a few|several|a|an)"
_INTERVAL = rf"(?:{_NUMBER}\s*(?:hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?)\b|PRN\b|as needed\b)"
INTERVAL_RE = re.compile(rf"\b{_INTERVAL}", re.IGNORECASE)
_CUE = (r"(?:follow(?:[- ]?up)?|f/u|RTC|return(?:s|ing)?(?: to (?:clinic|the clinic|office|the office|ED|the ED))?|"
        r"re-?check(?:ed)?|re-?evaluat(?:e|ion)|re-?assess(?:ment)?|see (?:me|us|you|PCP|the patient)|"
        r"PCP|recheck visit|next visit|appointment)")
# At most six filler words between cue and interval ("with their PCP in"): "PCP" is both a cue
# and a filler, so an unbounded run of them ("PCP PCP PCP …") was re-read from each one, in
# time quadratic in its length.
FOLLOW_UP_RE = re.compile(
    rf"\b{_CUE}\b(?:[ \t]+(?:up|with|in|within|after|at|their|his|her|the|PCP|clinic|provider|doctor|office|"
    rf"scheduled|planned|visit|for)){{0,6}}[ \t:]*(?P<value>{_INTERVAL})", re.IGNORECASE)
_HEADER_RE = re.compile(rf"^[ \t]*FOLLOW[- ]?UP[ \t]*:[^\n]*?\b(?:in|within)\s+(?P<value>{_INTERVAL})",
                        re.IGNORECASE | re.MULTILINE)


def extract_follow_up(note: str) -> Evidence | None:
    """The interval of the last follow-up instruction, or None when the note gives none."""
    matches = list(FOLLOW_UP_RE.finditer(note)) + list(_HEADER_RE.finditer(note))
    if not matches:
        return None
    last = max(matches, key=lambda m: m.start("value"))
    return evidence(note, (last.start("value"), last.end("value")))
