"""Vital signs with their units, by label: "T 101.3F", "temperature 38.5 °C", "BP 138/86",
"blood pressure 120/80 mmHg", "HR 104", "heart rate 92 bpm", "RR 22", "respiratory rate 15
breaths/min", "SpO2 93%", "oxygen saturation 97% on room air".

    extract_vitals("VITALS: T 98.2F, BP 125/71, HR 126") -> [Vital("temperature", "98.2F"), ...]

The value keeps the unit as written (the scorer compares numbers and units, so "98.2F" and
"98.2 °F" are the same value but "37 C" and "98.6 F" are not). A reading outside a plausible
human range (a heart rate of 3, a temperature of 250) is skipped rather than guessed. The
first reading of each vital wins: admission vitals come before any repeat.
"""
from __future__ import annotations

import re
from decimal import Decimal

from .schema import Vital
from .spans import evidence

_SEP = r"(?:\s*[:=]\s*|\s+(?:of|was|is)\s+|\s+)"
_NUM = r"\d{1,3}(?:\.\d+)?"
# name -> (label pattern, value pattern incl. unit, plausible range of the first number)
VITAL_PATTERNS: dict[str, tuple[str, str, tuple[float, float]]] = {
    "temperature": (r"\b(?:T|Temp|Tmax|Temperature)",
                    rf"{_NUM}(?:\s*°\s*[FC]\b|\s*(?:degrees?\s*)?(?:F|C|Fahrenheit|Celsius)\b)?", (30, 110)),
    "blood_pressure": (r"\b(?:BP|B/P|Blood pressure)", r"\d{2,3}\s*/\s*\d{2,3}(?:\s*mm\s*Hg\b)?", (50, 260)),
    "heart_rate": (r"\b(?:HR|P|Pulse|Heart rate|Pulse rate)",
                   rf"{_NUM}(?:\s*(?:bpm|beats/min|beats per minute|/min)\b)?", (20, 250)),
    "respiratory_rate": (r"\b(?:RR|R|Resp|Respirations|Respiratory rate)",
                         rf"{_NUM}(?:\s*(?:breaths/min|breaths per minute|/min|bpm|rpm)\b)?", (4, 70)),
    "spo2": (r"\b(?:SpO2|SaO2|O2 sat|O2 saturation|Sat|Sats|Oxygen saturation|Pulse ox)",
             rf"{_NUM}\s*%", (50, 100)),
}
_COMPILED = {name: re.compile(rf"{label}{_SEP}(?P<value>{value})(?![\d/]|\.\d)", re.IGNORECASE)
             for name, (label, value, _) in VITAL_PATTERNS.items()}
# The short labels T/P/R must be capitals on their own ("P: plan" is a header, not a pulse).
_SHORT_LABELS = {"T", "P", "R"}


def _plausible(name: str, value: str) -> bool:
    low, high = VITAL_PATTERNS[name][2]
    first = Decimal(re.match(r"\d+(?:\.\d+)?", value).group(0))
    return low <= first <= high


def extract_vitals(note: str) -> list[Vital]:
    """The first plausible reading of each vital, in the order of VITAL_PATTERNS."""
    vitals = []
    for name, pattern in _COMPILED.items():
        for m in pattern.finditer(note):
            label = note[m.start():m.start("value")].strip(" :=")
            if label.upper() in _SHORT_LABELS and (label not in _SHORT_LABELS or ":" in note[m.start():m.start("value")]):
                continue
            if _plausible(name, m.group("value")):
                vitals.append(Vital(name, evidence(note, (m.start("value"), m.end("value")))))
                break
    return vitals


def label_pattern(name: str) -> re.Pattern[str] | None:
    """The compiled label+value pattern of a vital (used to place a quoted value after its label)."""
    return _COMPILED.get(name)
