"""Synthetic clinical notes with gold structured extractions (DESIGN.md §2 notes and golden
formats), for the notes collection and the extraction evals.

Each note is sampled as an `Encounter` (condition, symptoms, pertinent negatives, vitals,
imaging, medications, follow-up) and written in one of five shapes (`notes_render.py`). The
gold is recorded while the text is written, then checked against the text:

- every gold string occurs verbatim in the note;
- each negated finding occurs exactly once, after a negation cue in its clause, and is
  neither a symptom nor part of one;
- no symptom occurs after a negation cue in its clause;
- vital values and the follow-up interval occur exactly once, so a span match is unambiguous.

An encounter that fails a check is re-drawn from the same random stream, so the output stays
deterministic. Conventions the gold follows: `diagnoses` lists every condition the patient
is said to have (the visit's and chronic ones); `medications` lists every drug with a dose
(home and new); negative imaging results stay inside their `imaging` string.
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from . import DEFAULT_SEED, NOTES_FILE, NOTES_GOLD_FILE, TODAY
from .jsonl import write_jsonl
from .names import LANGUAGE_BY_CODE
from .notes_banks import COMORBIDITIES, CONDITIONS, Comorbidity, Condition
from .notes_render import NOTE_TYPES, STYLES, Encounter, GoldRecorder

NEGATION_CUES = re.compile(r"\b(denies|denied|no|not|negative for|without|absence of)\b", re.I)
# A clause ends at a sentence end, a line break, a semicolon or a header colon.
_CLAUSE_END = re.compile(r"[.;:\n]\s")
STYLE_WEIGHTS = {"soap": 0.34, "narrative": 0.26, "terse": 0.2, "telephone": 0.08, "discharge": 0.12}
DURATIONS = ("2 days", "3 days", "4 days", "5 days", "6 days", "10 days", "2 weeks", "3 weeks", "1 month",
             "several months")
FIRST_DATE = dt.date(2024, 1, 1)
NOTE_FIELDS = ("id", "patient_id", "date", "author", "note_type", "text")


@dataclass(frozen=True)
class NotesConfig:
    """seed: drives everything; n_notes: how many notes; repeat_patient_p: chance that a note
    belongs to a patient seen before (follow-ups give patients several notes)."""

    seed: int = DEFAULT_SEED
    n_notes: int = 240
    repeat_patient_p: float = 0.3

    def __post_init__(self) -> None:
        if self.n_notes < 1:
            raise ValueError(f"NotesConfig.n_notes must be >= 1, got {self.n_notes}")
        if not 0.0 <= self.repeat_patient_p <= 1.0:
            raise ValueError(f"NotesConfig.repeat_patient_p must be in [0, 1], got {self.repeat_patient_p}")


@dataclass(frozen=True)
class Patient:
    id: str
    age: int
    sex: str
    comorbidities: tuple[Comorbidity, ...]


# --- sampling ----------------------------------------------------------------------------

def _fits(term_text: str, sex: str) -> bool:
    female_only = ("menstrual", "vaginal")
    male_only = ("prostat",)
    blocked = male_only if sex == "F" else female_only
    return not any(word in term_text for word in blocked)


def new_patient(rng: random.Random, number: int) -> Patient:
    sex = rng.choice("MF")
    child = rng.random() < 0.12
    age = rng.randint(6, 12) if child else rng.randint(19, 89)
    pool = [c for c in COMORBIDITIES if _fits(c.diagnosis.long, sex)]
    count = 0 if child else rng.choice((0, 0, 1, 1, 2))
    return Patient(f"pt_{number:04d}", age, sex, tuple(rng.sample(pool, count)))


def _vitals(rng: random.Random, condition: Condition) -> dict[str, tuple[float, ...]]:
    abnormal = condition.vitals
    temperature = rng.uniform(100.6, 103.0) if "fever" in abnormal else rng.uniform(97.6, 99.0)
    systolic = rng.randint(142, 172) if "hypertension" in abnormal else rng.randint(108, 136)
    diastolic = rng.randint(88, 102) if "hypertension" in abnormal else rng.randint(64, 86)
    return {
        "temperature": (round(temperature, 1),),
        "blood_pressure": (systolic, diastolic),
        "heart_rate": (rng.randint(102, 128) if "tachycardia" in abnormal else rng.randint(58, 96),),
        "respiratory_rate": (rng.randint(21, 28) if "tachypnea" in abnormal else rng.randint(12, 18),),
        "spo2": (rng.randint(86, 93) if "hypoxia" in abnormal else rng.randint(95, 99),),
    }


def _overlaps(a: str, b: str) -> bool:
    """Do two phrases share a word (so that one could be mistaken for the other in a span match)?"""
    return bool(set(re.findall(r"[a-z0-9]+", a.lower())) & set(re.findall(r"[a-z0-9]+", b.lower())))


def sample_encounter(rng: random.Random, patient: Patient, condition: Condition, date: dt.date) -> Encounter:
    symptoms = rng.sample(condition.symptoms, rng.randint(2, min(4, len(condition.symptoms))))
    taken = [t.long for t in symptoms] + [t.short for t in symptoms] + [condition.diagnosis.long]
    negative_pool = [n for n in condition.negatives if _fits(n.long, patient.sex)
                     and not any(_overlaps(n.long, x) or _overlaps(n.short, x) for x in taken)]
    negatives = rng.sample(negative_pool, min(len(negative_pool), rng.randint(1, 3)))
    comorbidities = [c for c in patient.comorbidities
                     if not _overlaps(c.diagnosis.long, condition.diagnosis.long)
                     and c.medication.name not in {m.name for m in condition.medications}]
    exam = rng.sample(condition.exam, rng.randint(1, len(condition.exam)))
    study = rng.choice(condition.studies) if condition.studies and rng.random() < 0.75 else None
    medications = rng.sample(condition.medications, rng.randint(1, min(2, len(condition.medications))))
    follow_up = rng.choice(condition.follow_up) if rng.random() < 0.88 else None
    return Encounter(age=patient.age, sex=patient.sex, condition=condition, symptoms=symptoms,
                     duration=rng.choice(DURATIONS), negatives=negatives, exam=exam, study=study,
                     medications=medications, comorbidities=comorbidities, vitals=_vitals(rng, condition),
                     follow_up=follow_up, celsius=rng.random() < 0.4, date=date)


# --- checks ------------------------------------------------------------------------------

def _clause_before(text: str, position: int) -> str:
    starts = [m.end() for m in _CLAUSE_END.finditer(text, 0, position)]
    return text[(starts[-1] if starts else 0):position]


def occurrences(text: str, phrase: str) -> list[int]:
    """Start offsets of `phrase` as a whole phrase (not inside a longer word)."""
    pattern = r"(?<![\w/])" + re.escape(phrase) + r"(?![\w/])"
    return [m.start() for m in re.finditer(pattern, text)]


def gold_problems(text: str, gold: dict[str, Any]) -> list[str]:
    """Why a note and its gold disagree (empty list: they agree). Also used by the tests."""
    problems = []
    strings = list(gold["symptoms"]) + list(gold["vitals"].values()) + list(gold["imaging"]) + list(
        gold["diagnoses"]) + list(gold["negated_findings"]) + ([gold["follow_up"]] if gold["follow_up"] else [])
    strings += [v for med in gold["medications"] for v in med.values() if v is not None]
    problems += [f"not verbatim in the text: {s!r}" for s in strings if s not in text]
    for finding in gold["negated_findings"]:
        found = occurrences(text, finding)
        if len(found) != 1:
            problems.append(f"negated finding {finding!r} occurs {len(found)} times")
        problems += [f"negated finding {finding!r} has no negation cue before it"
                     for at in found if not NEGATION_CUES.search(_clause_before(text, at))]
        problems += [f"negated finding {finding!r} overlaps symptom {s!r}"
                     for s in gold["symptoms"] if finding in s or s in finding]
    for symptom in gold["symptoms"]:
        problems += [f"symptom {symptom!r} appears after a negation cue"
                     for at in occurrences(text, symptom) if NEGATION_CUES.search(_clause_before(text, at))]
    for value in list(gold["vitals"].values()) + ([gold["follow_up"]] if gold["follow_up"] else []):
        if len(occurrences(text, value)) != 1:
            problems.append(f"{value!r} occurs {len(occurrences(text, value))} times; a span match would be ambiguous")
    return problems


# --- the generator -----------------------------------------------------------------------

def _author(rng: random.Random) -> str:
    english = LANGUAGE_BY_CODE["en"]
    name = f"{rng.choice(english.first_names)} {rng.choice(english.last_names)}"
    return rng.choice((f"Dr. {name}", f"Dr. {name}", f"{name}, NP", f"{name}, PA-C"))


def _write_note(rng: random.Random, patient: Patient, date: dt.date, style: str) -> tuple[str, dict[str, Any]]:
    pool = [c for c in CONDITIONS if (c.children or patient.age >= 16) and (c.inpatient or style != "discharge")]
    for _ in range(50):
        encounter = sample_encounter(rng, patient, rng.choice(pool), date)
        gold = GoldRecorder()
        text = STYLES[style](encounter, gold, rng)
        expected = gold.as_dict()
        if not gold_problems(text, expected):
            return text, expected
    raise RuntimeError(f"could not write a consistent {style} note for {patient.id}; check the condition banks")


def generate_notes(config: NotesConfig | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(note, gold) pairs: note has id/patient_id/date/author/note_type/text; gold has
    note_id, style and expected_fields."""
    config = config or NotesConfig()
    rng = random.Random(f"{config.seed}:notes")
    patients: list[Patient] = []
    styles, weights = zip(*STYLE_WEIGHTS.items())
    span = (TODAY - FIRST_DATE).days
    for number in range(1, config.n_notes + 1):
        if patients and rng.random() < config.repeat_patient_p:
            patient = rng.choice(patients)
        else:
            patient = new_patient(rng, len(patients) + 1)
            patients.append(patient)
        style = rng.choices(styles, weights)[0]
        if style == "discharge" and patient.age < 16:
            style = "telephone"  # no paediatric admissions in the banks
        date = FIRST_DATE + dt.timedelta(days=rng.randrange(span + 1))
        text, expected = _write_note(rng, patient, date, style)
        note_id = f"note_{number:04d}"
        note = {"id": note_id, "patient_id": patient.id, "date": date.isoformat(), "author": _author(rng),
                "note_type": rng.choice(NOTE_TYPES[style]), "text": text}
        yield note, {"note_id": note_id, "style": style, "expected_fields": expected}


def write_notes(out_dir: Path, config: NotesConfig | None = None) -> tuple[Path, Path]:
    pairs = list(generate_notes(config))
    notes_path, gold_path = Path(out_dir) / NOTES_FILE, Path(out_dir) / NOTES_GOLD_FILE
    write_jsonl(notes_path, (note for note, _ in pairs), NOTE_FIELDS)
    write_jsonl(gold_path, (gold for _, gold in pairs), ("note_id", "style", "expected_fields"))
    return notes_path, gold_path


__all__ = ["NotesConfig", "generate_notes", "write_notes", "gold_problems", "NEGATION_CUES"]
