"""Field-level precision, recall and F1 of a clinical-note extraction against its gold
`expected_fields` (DESIGN.md §2), scored as slot filling (the MUC template-scoring idea:
Chinchor, 1992, "MUC-4 Evaluation Metrics"): every field becomes a multiset of normalised
items, and

    tp = |pred ∩ gold| (multiset),  fp = |pred| - tp,  fn = |gold| - tp
    P = tp / (tp + fp),  R = tp / (tp + fn),  F1 = 2PR / (P + R)

A value that is present but wrong is therefore one fp and one fn. When a side is empty the
ratio is 1 if the other side is empty too (nothing to find, nothing claimed: exactly right)
and 0 otherwise. Items per field:

    symptoms, imaging, diagnoses, negated_findings   each string, `normalize_text`ed
    vitals       (key, value): keys by alias ("bp" -> blood_pressure), values as numbers plus
                 a canonical unit ("100.2F" == "100.2 °F" == "100.2 degrees F"; "120/80" ==
                 "120/80 mmHg"; "98" == "98%" for spo2); a unit left out is the key's usual
                 one (temperature: °F above 50, else °C). No F<->C conversion: the value must be
                 the one the note states.
    medications  per attribute, (name, value) for each medication where the value is not null,
                 so attributes are matched through the medication's normalised name:
                 name; dose (amounts and unit: "500mg" == "500 mg", "1 g" == "1000 mg",
                 "0.5 mg" != "5 mg"); route and frequency (standard abbreviations: "PO" ==
                 "by mouth", "BID PRN" == "twice daily as needed"); duration ("for 5 days" ==
                 "5 days"). The medications field pools its five attributes.
    follow_up    the interval as one item, normalised like duration; null = no item

`extraction_scores(predicted, gold)` scores one note, `corpus_extraction_scores(pairs)` sums the
counts over notes first. Both return `<field>_{precision,recall,f1}` for the seven fields,
`medications_<attribute>_*` for the five attributes, `micro_*` (counts pooled over the seven
fields) and `macro_*` (mean over the seven fields). Predicted fields outside the schema are
ignored; a gold field outside it is an error.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Hashable, Iterable, Mapping

from .text import f_measure, normalize_text, overlap

LIST_FIELDS = ("symptoms", "imaging", "diagnoses", "negated_findings")
FIELDS = ("symptoms", "vitals", "imaging", "medications", "follow_up", "diagnoses", "negated_findings")
MED_ATTRIBUTES = ("name", "dose", "route", "frequency", "duration")


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.fp, self.fn)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.fn, self.fp)

    @property
    def f1(self) -> float:
        return f_measure(self.precision, self.recall)


def _ratio(tp: int, wrong: int, other_wrong: int) -> float:
    if tp + wrong:
        return tp / (tp + wrong)
    return 1.0 if other_wrong == 0 else 0.0  # this side is empty: right only if the other is


def multiset_counts(pred: Iterable[Hashable], gold: Iterable[Hashable]) -> Counts:
    p, g = Counter(pred), Counter(gold)
    tp = overlap(p, g)
    return Counts(tp, sum(p.values()) - tp, sum(g.values()) - tp)


# ---- value normalisation ------------------------------------------------------------------

_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}


def _compact(text: str) -> str:
    """normalize_text, and dots inside abbreviations dropped: 'P.O.' -> 'po', 'b.i.d.' -> 'bid'."""
    return re.sub(r"(?<=[a-z])\.(?=[a-z]|$)", "", normalize_text(text))


def _phrase_table(groups: Mapping[str, Iterable[str]]) -> list[tuple[re.Pattern[str], str]]:
    """{canonical: synonyms} -> whole-phrase substitutions, longest first so that 'once daily'
    is rewritten before 'once'."""
    pairs = [(syn, canon) for canon, syns in groups.items() for syn in syns]
    pairs.sort(key=lambda p: -len(p[0]))
    return [(re.compile(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])"), c) for s, c in pairs]


def _rewrite(text: str, table: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, canon in table:
        text = pattern.sub(canon, text)
    return " ".join(text.split())


_ROUTES = _phrase_table({
    "oral": ["po", "by mouth", "orally", "oral", "per os"],
    "iv": ["iv", "intravenously", "intravenous"],
    "im": ["im", "intramuscularly", "intramuscular"],
    "subcutaneous": ["sc", "subq", "sq", "subcutaneously", "subcutaneous"],
    "inhaled": ["inh", "inhaled", "by inhalation", "inhalation"],
    "nasal": ["nasal", "intranasally", "intranasal"],
    "topical": ["topically", "topical"],
    "sublingual": ["sl", "sublingually", "sublingual"],
    "rectal": ["pr", "per rectum", "rectally", "rectal"],
})
_FREQUENCIES = _phrase_table({
    "daily": ["qd", "once daily", "once a day", "every day", "daily"],
    "bid": ["bid", "twice daily", "twice a day", "two times daily", "two times a day"],
    "tid": ["tid", "three times daily", "three times a day"],
    "qid": ["qid", "four times daily", "four times a day"],
    "qhs": ["qhs", "at bedtime", "nightly", "every night"],
    "prn": ["prn", "as needed"],
})
_EVERY_N_HOURS_RE = re.compile(r"\b(?:every (\d+) hours?|q ?(\d+) ?(?:h|hr|hrs|hours?))\b")


def normalize_route(text: str) -> str:
    return _rewrite(_compact(text), _ROUTES)


def normalize_frequency(text: str) -> str:
    text = _EVERY_N_HOURS_RE.sub(lambda m: f"q{m.group(1) or m.group(2)}h", _compact(text))
    return _rewrite(text, _FREQUENCIES)


def normalize_interval(text: str) -> str:
    """Durations and follow-up intervals: 'for five days.' -> '5 days', 'in 1 week' -> '1 week'."""
    words = normalize_text(text).split()
    if words and words[0] in ("for", "in", "x", "within"):
        words = words[1:]
    return " ".join(_NUMBER_WORDS.get(w, w) for w in words)


# Dose units -> (canonical unit, factor to it). Mass is compared in mg so "1 g" == "1000 mg".
# "μg" is the Greek mu: NFKC (normalize_text) turns the micro sign into it.
_DOSE_UNITS = {"mg": ("mg", 1), "milligram": ("mg", 1), "g": ("mg", 1000), "gram": ("mg", 1000),
               "mcg": ("mg", Decimal("0.001")), "ug": ("mg", Decimal("0.001")), "\u03bcg": ("mg", Decimal("0.001")),
               "microgram": ("mg", Decimal("0.001")), "ml": ("ml", 1), "milliliter": ("ml", 1)}
_AMOUNT_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z\u03bc%]+(?:/[a-z]+)*)?")


def normalize_dose(text: str) -> Hashable:
    """'800/160 mg' -> ((800, 'mg'), (160, 'mg')); '1 g' -> ((1000, 'mg'),); no number -> the text.
    A number without a unit takes the next stated one, as in '800/160 mg'."""
    norm = _THOUSANDS_RE.sub("", normalize_text(text))
    amounts = [(Decimal(num), unit) for num, unit in _AMOUNT_RE.findall(norm)]
    if not amounts:
        return norm
    out, unit = [], ""
    for value, stated in reversed(amounts):
        unit = stated or unit
        # "puffs" and "puff", "grams" and "gram" are the same unit ("mcg", "mg" are left alone).
        singular = unit[:-1] if len(unit) > 3 and unit.endswith("s") else unit
        canon, factor = _DOSE_UNITS.get(singular, (singular, 1))
        out.append((value * factor, canon))
    return tuple(reversed(out))


_VITAL_KEYS = {alias: key for key, aliases in {
    "temperature": ["temperature", "temp"],
    "blood_pressure": ["blood_pressure", "bp"],
    "heart_rate": ["heart_rate", "hr", "pulse", "pulse_rate"],
    "respiratory_rate": ["respiratory_rate", "rr", "resp_rate", "respirations", "resp"],
    "spo2": ["spo2", "sao2", "o2_sat", "o2_saturation", "oxygen_saturation", "pulse_ox"],
}.items() for alias in aliases}
_VITAL_UNITS = {"f": "F", "fahrenheit": "F", "c": "C", "celsius": "C", "centigrade": "C",
                "bpm": "/min", "beatsmin": "/min", "beatsperminute": "/min", "min": "/min",
                "breathsmin": "/min", "breathsperminute": "/min", "rpm": "/min",
                "%": "%", "percent": "%", "mmhg": "mmHg"}
_DEFAULT_UNITS = {"blood_pressure": "mmHg", "heart_rate": "/min", "respiratory_rate": "/min", "spo2": "%"}


def normalize_vital_key(key: str) -> str:
    key = re.sub(r"[\s\-]+", "_", normalize_text(key))
    return _VITAL_KEYS.get(key, key)


def normalize_vital(key: str, value: str) -> Hashable:
    """('temperature', '100.2 °F') -> ((100.2,), 'F'); ('blood_pressure', '120/80') -> ((120, 80), 'mmHg')."""
    text = normalize_text(value)
    numbers = tuple(Decimal(n) for n in _NUMBER_RE.findall(text))
    if not numbers:
        return text
    unit_key = re.sub(r"[\s/°.]+", "", _NUMBER_RE.sub(" ", text))
    unit_key = re.sub(r"^deg(?:rees?)?", "", unit_key)
    unit = _VITAL_UNITS.get(unit_key, unit_key)
    if not unit and key == "temperature":
        unit = "F" if numbers[0] > 50 else "C"  # body temperatures: 35-42 °C, 95-108 °F
    return numbers, unit or _DEFAULT_UNITS.get(key, "")


# ---- fields -> items -------------------------------------------------------------------------

def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return [value] if isinstance(value, (str, Mapping)) else list(value)


def _list_items(value: Any) -> list[str]:
    return [normalize_text(str(v)) for v in _as_list(value) if _present(v)]


def _vital_items(value: Any) -> list[Hashable]:
    if not value:
        return []
    if not isinstance(value, Mapping):
        raise ValueError(f"vitals must be an object like {{\"temperature\": \"100.2F\"}}, got {value!r}")
    items = []
    for key, val in value.items():
        if _present(val):
            canon = normalize_vital_key(key)
            items.append((canon, normalize_vital(canon, str(val))))
    return items


_ATTRIBUTE_NORMALIZERS: dict[str, Callable[[str], Hashable]] = {
    "dose": normalize_dose, "route": normalize_route,
    "frequency": normalize_frequency, "duration": normalize_interval,
}


def _follow_up_items(value: Any) -> list[str]:
    return [normalize_interval(str(value))] if _present(value) else []


def _medication_items(value: Any) -> dict[str, list[Hashable]]:
    items: dict[str, list[Hashable]] = {attr: [] for attr in MED_ATTRIBUTES}
    for med in _as_list(value):
        if isinstance(med, str):
            med = {"name": med}
        if not isinstance(med, Mapping):
            raise ValueError(f"a medication must be an object with {', '.join(MED_ATTRIBUTES)}, got {med!r}")
        name = normalize_text(str(med.get("name") or ""))
        if name:
            items["name"].append(name)
        for attr, normalize in _ATTRIBUTE_NORMALIZERS.items():
            if _present(med.get(attr)):
                items[attr].append((name, normalize(str(med[attr]))))
    return items


def extraction_counts(predicted: Mapping[str, Any], gold: Mapping[str, Any]) -> dict[str, Counts]:
    """Counts per field and per medication attribute (`medications_<attribute>`) for one note."""
    unknown = sorted(set(gold) - set(FIELDS))
    if unknown:
        raise ValueError(f"gold fields {unknown} are not in the extraction schema {list(FIELDS)}; "
                         "fix the golden record or teach evals/metrics/extraction.py the new field")
    counts = {f: multiset_counts(_list_items(predicted.get(f)), _list_items(gold.get(f))) for f in LIST_FIELDS}
    counts["vitals"] = multiset_counts(_vital_items(predicted.get("vitals")), _vital_items(gold.get("vitals")))
    counts["follow_up"] = multiset_counts(_follow_up_items(predicted.get("follow_up")),
                                          _follow_up_items(gold.get("follow_up")))
    pred_meds, gold_meds = _medication_items(predicted.get("medications")), _medication_items(gold.get("medications"))
    per_attr = {attr: multiset_counts(pred_meds[attr], gold_meds[attr]) for attr in MED_ATTRIBUTES}
    counts["medications"] = sum(per_attr.values(), Counts())
    counts.update({f"medications_{attr}": c for attr, c in per_attr.items()})
    return counts


def scores_from_counts(counts: Mapping[str, Counts]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, c in counts.items():
        out.update({f"{name}_precision": c.precision, f"{name}_recall": c.recall, f"{name}_f1": c.f1})
    micro = sum((counts[f] for f in FIELDS), Counts())
    out.update({"micro_precision": micro.precision, "micro_recall": micro.recall, "micro_f1": micro.f1})
    for stat in ("precision", "recall", "f1"):
        out[f"macro_{stat}"] = sum(getattr(counts[f], stat) for f in FIELDS) / len(FIELDS)
    return out


def extraction_scores(predicted: Mapping[str, Any], gold: Mapping[str, Any]) -> dict[str, float]:
    """Scores of one predicted `expected_fields` dict against the gold one."""
    return scores_from_counts(extraction_counts(predicted, gold))


def corpus_extraction_scores(pairs: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, float]:
    """Scores over many notes: (predicted, gold) counts summed per field, then the ratios."""
    total: dict[str, Counts] = {}
    for predicted, gold in pairs:
        for name, c in extraction_counts(predicted, gold).items():
            total[name] = total.get(name, Counts()) + c
    if not total:
        raise ValueError("no (predicted, gold) pairs to score")
    return scores_from_counts(total)
