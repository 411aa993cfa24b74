"""The five shapes a synthetic clinical note can take, each a function from the facts of one
encounter to text: SOAP with headers, free narrative, terse S/O/A/P, telephone encounter
and discharge summary.

Every renderer writes clinical values only through a `GoldRecorder`, which returns the
exact string placed in the text and records it in the gold extraction at the same time.
That is what guarantees that every gold value appears verbatim in its note.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from .notes_banks import ROUTES, Comorbidity, Condition, Medication, Study, Term

VITAL_ORDER = ("temperature", "blood_pressure", "heart_rate", "respiratory_rate", "spo2")


@dataclass
class Encounter:
    """What is true about one visit; the renderer decides how it is written down."""

    age: int
    sex: str                               # "M" or "F"
    condition: Condition
    symptoms: list[Term]
    duration: str                          # how long the symptoms have lasted: "5 days"
    negatives: list[Term]                  # pertinent negatives from the history
    exam: list[str]                        # exam findings; "no X" items are negated findings
    study: Study | None
    medications: list[Medication]          # started at this visit
    comorbidities: list[Comorbidity]
    vitals: dict[str, tuple[float, ...]]   # temperature (F), blood_pressure (sys, dia), heart_rate, ...
    follow_up: str | None                  # "1 week", "PRN", or None for no follow-up sentence
    celsius: bool
    date: dt.date

    @property
    def child(self) -> bool:
        return self.age < 16

    def noun(self) -> str:
        if self.child:
            return "boy" if self.sex == "M" else "girl"
        return "man" if self.sex == "M" else "woman"

    def pronoun(self, capital: bool = True) -> str:
        word = "he" if self.sex == "M" else "she"
        return word.capitalize() if capital else word


@dataclass
class GoldRecorder:
    """Collects the gold extraction while the text is written (DESIGN.md §2 schema)."""

    symptoms: list[str] = field(default_factory=list)
    vitals: dict[str, str] = field(default_factory=dict)
    imaging: list[str] = field(default_factory=list)
    medications: list[dict[str, str | None]] = field(default_factory=list)
    follow_up: str | None = None
    diagnoses: list[str] = field(default_factory=list)
    negated_findings: list[str] = field(default_factory=list)

    def _add(self, bucket: list[str], value: str) -> str:
        if value not in bucket:
            bucket.append(value)
        return value

    def symptom(self, term: Term, short: bool) -> str:
        return self._add(self.symptoms, term.short if short else term.long)

    def negated(self, term: Term | str, short: bool = False) -> str:
        value = term if isinstance(term, str) else (term.short if short else term.long)
        return self._add(self.negated_findings, value)

    def diagnosis(self, term: Term, short: bool) -> str:
        return self._add(self.diagnoses, term.short if short else term.long)

    def vital(self, name: str, value: str) -> str:
        self.vitals[name] = value
        return value

    def study(self, text: str) -> str:
        return self._add(self.imaging, text)

    def medication(self, med: Medication, short: bool, with_route: bool = True) -> str:
        """Short form 'amoxicillin 1 g PO TID x 5 days', long form 'amoxicillin 1 g by mouth three
        times daily for 5 days'; the gold gets the same pieces."""
        route = ROUTES[med.route] if med.route and with_route else None
        route_text = (route.short if short else route.long) if route else None
        frequency = med.frequency.short if short else med.frequency.long
        parts = [med.name, med.dose, route_text, frequency]
        text = " ".join(p for p in parts if p)
        if med.duration:
            text += f" x {med.duration}" if short else f" for {med.duration}"
        self.medications.append({"name": med.name, "dose": med.dose, "route": route_text,
                                 "frequency": frequency, "duration": med.duration})
        return text

    def follow(self, value: str) -> str:
        self.follow_up = value
        return value

    def as_dict(self) -> dict[str, Any]:
        return {"symptoms": self.symptoms, "vitals": {k: self.vitals[k] for k in VITAL_ORDER if k in self.vitals},
                "imaging": self.imaging, "medications": self.medications, "follow_up": self.follow_up,
                "diagnoses": self.diagnoses, "negated_findings": self.negated_findings}


# --- shared phrasing ---------------------------------------------------------------------

def join(items: list[str], conjunction: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _temperature(e: Encounter, spaced: bool) -> str:
    fahrenheit = e.vitals["temperature"][0]
    value, unit = ((fahrenheit - 32) * 5 / 9, "C") if e.celsius else (fahrenheit, "F")
    return f"{value:.1f} °{unit}" if spaced else f"{value:.1f}{unit}"


def vitals_line(e: Encounter, g: GoldRecorder, rng: random.Random, include: tuple[str, ...], sep: str) -> str:
    """Abbreviated vitals: "T 101.3F, BP 138/86, HR 104, RR 22, SpO2 93% on RA"."""
    parts = []
    for name in include:
        if name == "temperature":
            parts.append("T " + g.vital(name, _temperature(e, spaced=rng.random() < 0.3)))
        elif name == "blood_pressure":
            systolic, diastolic = e.vitals[name]
            parts.append("BP " + g.vital(name, f"{systolic:.0f}/{diastolic:.0f}"))
        elif name == "heart_rate":
            parts.append("HR " + g.vital(name, f"{e.vitals[name][0]:.0f}"))
        elif name == "respiratory_rate":
            parts.append("RR " + g.vital(name, f"{e.vitals[name][0]:.0f}"))
        else:
            parts.append("SpO2 " + g.vital(name, f"{e.vitals[name][0]:.0f}%") + rng.choice((" on RA", " RA", "")))
    return sep.join(parts)


def vitals_prose(e: Encounter, g: GoldRecorder, include: tuple[str, ...]) -> str:
    """Spelled-out vitals: "temperature 38.5 °C, blood pressure 138/86 mmHg, ..."."""
    words = {
        "temperature": lambda: "temperature " + g.vital("temperature", _temperature(e, spaced=True)),
        "blood_pressure": lambda: "blood pressure " + g.vital(
            "blood_pressure", "{:.0f}/{:.0f} mmHg".format(*e.vitals["blood_pressure"])),
        "heart_rate": lambda: "heart rate " + g.vital("heart_rate", f"{e.vitals['heart_rate'][0]:.0f} bpm"),
        "respiratory_rate": lambda: "respiratory rate " + g.vital(
            "respiratory_rate", f"{e.vitals['respiratory_rate'][0]:.0f} breaths/min"),
        "spo2": lambda: "oxygen saturation " + g.vital("spo2", f"{e.vitals['spo2'][0]:.0f}%") + " on room air",
    }
    return join([words[name]() for name in include])


def exam_parts(e: Encounter, g: GoldRecorder) -> tuple[list[str], list[str]]:
    """(findings, absent findings); an exam item "no X" is the negated finding X."""
    findings = [f for f in e.exam if not f.startswith("no ")]
    absent = [g.negated(f[3:]) for f in e.exam if f.startswith("no ")]
    return findings, absent


def exam_list(e: Encounter, g: GoldRecorder) -> list[str]:
    findings, absent = exam_parts(e, g)
    return findings + [f"no {x}" for x in absent]


def article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def follow_up_sentence(e: Encounter, g: GoldRecorder, rng: random.Random, short: bool) -> str:
    if e.follow_up is None:
        return rng.choice(("Return precautions reviewed.", "Call with any concerns."))
    if e.follow_up == "PRN":
        return "Follow up " + g.follow(rng.choice(("PRN", "as needed"))) + "."
    forms = ("f/u {}.", "RTC {}.", "Follow-up in {}.") if short else (
        "Follow up in {}, sooner if symptoms worsen.", "Return to clinic in {}.", "Plan to recheck in {}.")
    return rng.choice(forms).format(g.follow(e.follow_up))


# Drugs a listed allergy rules out; a note never prescribes what the patient is allergic to.
ALLERGY_CONFLICTS: dict[str, tuple[str, ...]] = {
    "penicillin (rash)": ("penicillin", "amoxicillin", "cephalexin"),
    "sulfa (hives)": ("sulfamethoxazole",),
}


def allergy(e: Encounter, rng: random.Random) -> str:
    names = " ".join(m.name for m in e.medications + [c.medication for c in e.comorbidities])
    options = ["NKDA", "NKDA"] + [a for a, drugs in ALLERGY_CONFLICTS.items() if not any(d in names for d in drugs)]
    return rng.choice(options)


def _cue_list(g: GoldRecorder, negatives: list[Term], short: bool, rng: random.Random) -> str:
    items = [g.negated(n, short) for n in negatives]
    return join(items, rng.choice(("or", "and")) if len(items) > 1 else "or")


# --- the five shapes ---------------------------------------------------------------------

def soap(e: Encounter, g: GoldRecorder, rng: random.Random) -> str:
    short = rng.random() < 0.5
    s = [g.symptom(t, short) for t in e.symptoms]
    lines = [f"CHIEF COMPLAINT: {s[0]} x {e.duration}"]
    history = f" with PMH of {join([g.diagnosis(c.diagnosis, short) for c in e.comorbidities])}" \
        if e.comorbidities else ""
    hpi = f"HPI: {e.age} y/o {e.sex}{history} presents {'c/o' if short else 'with'} {s[0]} x {e.duration}"
    if len(s) > 1:
        hpi += f", associated with {join(s[1:])}"
    hpi += "."
    if e.negatives:
        hpi += f" {rng.choice(('Denies', 'Pt denies', 'ROS negative for'))} {_cue_list(g, e.negatives, short, rng)}."
    lines.append(hpi)
    home = [g.medication(c.medication, short) for c in e.comorbidities]
    lines.append("MEDICATIONS: " + ("; ".join(home) if home else "none"))
    lines.append("ALLERGIES: " + allergy(e, rng))
    lines.append("VITALS: " + vitals_line(e, g, rng, VITAL_ORDER, ", "))
    lines.append("EXAM: " + "; ".join(exam_list(e, g)) + ".")
    if e.study:
        lines.append(f"IMAGING: {g.study(f'{e.study.modality.short}: {e.study.finding}')}")
    assessment = [g.diagnosis(e.condition.diagnosis, short)] + [
        f"{g.diagnosis(c.diagnosis, short)}, stable" for c in e.comorbidities]
    lines.append("ASSESSMENT: " + " ".join(f"{i}. {a}" for i, a in enumerate(assessment, 1)))
    plan = [("Start " if i == 0 else "") + g.medication(m, short) for i, m in enumerate(e.medications)]
    lines.append("PLAN: " + "; ".join(plan) + ". " + follow_up_sentence(e, g, rng, short))
    return "\n".join(lines)


def narrative(e: Encounter, g: GoldRecorder, rng: random.Random) -> str:
    he = e.pronoun()
    history = f" with a history of {join([g.diagnosis(c.diagnosis, False) for c in e.comorbidities])}" \
        if e.comorbidities else ""
    s = [g.symptom(t, False) for t in e.symptoms]
    parts = [f"The patient is a {e.age}-year-old {e.noun()}{history} who presents with {s[0]} for {e.duration}"
             + (f", along with {join(s[1:])}." if len(s) > 1 else ".")]
    if e.negatives:
        parts.append(f"{he} denies {_cue_list(g, e.negatives, False, rng)}.")
    if e.comorbidities:
        parts.append(f"{he} takes {join([g.medication(c.medication, False) for c in e.comorbidities])}.")
    include = tuple(v for v in VITAL_ORDER if rng.random() < 0.8) or ("blood_pressure",)
    parts.append(f"On examination, {vitals_prose(e, g, include)}.")
    findings, absent = exam_parts(e, g)
    if findings:
        parts.append(f"Exam is notable for {join(findings)}.")
    if absent:
        parts.append(f"No {join(absent, 'or')} on exam.")
    if e.study:
        shown = g.study(f"{e.study.modality.long} showed {e.study.finding}")
        parts.append(article(shown)[0].upper() + article(shown)[1:] + ".")
    parts.append(rng.choice(("This is most consistent with {}.", "The picture fits {}.", "Impression: {}."))
                 .format(g.diagnosis(e.condition.diagnosis, False)))
    if e.medications:
        parts.append(rng.choice(("I have started {}.", "We will start {}.", "Prescribed {}."))
                     .format(join([g.medication(m, False) for m in e.medications])))
    parts.append(follow_up_sentence(e, g, rng, False))
    return " ".join(parts)


def terse(e: Encounter, g: GoldRecorder, rng: random.Random) -> str:
    s = [g.symptom(t, True) for t in e.symptoms]
    subjective = f"S: {e.age}{e.sex} c/o {s[0]} x {e.duration}." + "".join(f" +{x}." for x in s[1:])
    if e.negatives:
        subjective += f" {rng.choice(('Denies', 'No'))} {_cue_list(g, e.negatives, True, rng)}."
    include = tuple(v for v in VITAL_ORDER if rng.random() < 0.75) or ("heart_rate",)
    objective = f"O: {vitals_line(e, g, rng, include, ' ')}. {'. '.join(exam_list(e, g))}."
    lines = [subjective, objective]
    if e.study:
        lines.append(f"Imaging: {g.study(f'{e.study.modality.short}: {e.study.finding}')}.")
    lines.append("A: " + "; ".join([g.diagnosis(e.condition.diagnosis, True)]
                                   + [g.diagnosis(c.diagnosis, True) for c in e.comorbidities]))
    meds = [g.medication(m, True, with_route=rng.random() < 0.6) for m in e.medications]
    lines.append("P: " + "; ".join(meds + [follow_up_sentence(e, g, rng, True).rstrip(".")]))
    return "\n".join(lines)


def telephone(e: Encounter, g: GoldRecorder, rng: random.Random) -> str:
    caller = ("the patient's " + rng.choice(("mother", "father"))) if e.child else "the patient"
    s = [g.symptom(t, False) for t in e.symptoms[:3]]
    parts = [f"Telephone encounter. Spoke with {caller}, who reports {join(s)} for {e.duration}."]
    if e.negatives:
        parts.append(f"Denies {_cue_list(g, e.negatives, False, rng)}.")
    parts.append(f"Likely {g.diagnosis(e.condition.diagnosis, False)}.")
    if e.medications:
        parts.append(f"Rx sent to pharmacy: {join([g.medication(m, False) for m in e.medications])}.")
    parts.append("Advised to call back or go to urgent care if symptoms worsen.")
    parts.append(follow_up_sentence(e, g, rng, False))
    return " ".join(parts)


def discharge(e: Encounter, g: GoldRecorder, rng: random.Random) -> str:
    admitted = e.date - dt.timedelta(days=rng.randint(2, 6))
    diagnoses = [g.diagnosis(e.condition.diagnosis, False)] + [g.diagnosis(c.diagnosis, False)
                                                                for c in e.comorbidities]
    s = [g.symptom(t, False) for t in e.symptoms]
    lines = ["DISCHARGE SUMMARY", f"ADMISSION DATE: {admitted.isoformat()}", f"DISCHARGE DATE: {e.date.isoformat()}",
             "DISCHARGE DIAGNOSES: " + "; ".join(diagnoses),
             f"HISTORY: {e.age}-year-old {e.noun()} admitted with {join(s)} for {e.duration}."
             + (f" Denied {_cue_list(g, e.negatives, False, rng)} on admission." if e.negatives else ""),
             "ADMISSION VITALS: " + vitals_line(e, g, rng, VITAL_ORDER, ", ")]
    course = f"HOSPITAL COURSE: Exam on admission showed {join(exam_list(e, g))}."
    if e.study:
        course += f" {g.study(f'{e.study.modality.short}: {e.study.finding}')}."
    course += " Symptoms improved with treatment and the patient is stable for discharge."
    lines.append(course)
    meds = [g.medication(m, True) for m in e.medications] + [g.medication(c.medication, True)
                                                             for c in e.comorbidities]
    lines.append("DISCHARGE MEDICATIONS:\n" + "\n".join(f"- {m}" for m in meds))
    if e.follow_up and e.follow_up != "PRN":
        lines.append(f"FOLLOW-UP: PCP in {g.follow(e.follow_up)}.")
    else:
        lines.append("FOLLOW-UP: " + follow_up_sentence(e, g, rng, True))
    return "\n".join(lines)


STYLES: dict[str, Callable[[Encounter, GoldRecorder, random.Random], str]] = {
    "soap": soap, "narrative": narrative, "terse": terse, "telephone": telephone, "discharge": discharge,
}
NOTE_TYPES: dict[str, tuple[str, ...]] = {
    "soap": ("clinic visit", "ED note", "urgent care note", "follow-up visit"),
    "narrative": ("clinic visit", "consult note", "progress note"),
    "terse": ("progress note", "urgent care note"),
    "telephone": ("telephone encounter",),
    "discharge": ("discharge summary",),
}
