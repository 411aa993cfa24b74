"""Clinical facts for the synthetic notes: conditions with their symptoms, pertinent
negatives, exam findings, imaging, medications and follow-up intervals.

Compact notation, parsed once at import:
- a term with a short form is written "long|short" ("shortness of breath|SOB"); terse notes
  use the short form, and the gold records whichever form the note actually contains;
- a medication is "name; dose; route; ABBR=long frequency; duration" with "" for none;
  routes are keys of `ROUTES`;
- a study is "ABBR=long modality: finding" ("CXR=chest X-ray: right lower lobe consolidation").

Nothing here is medical advice: doses are typical textbook values used to make realistic text.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    long: str
    short: str

    @classmethod
    def parse(cls, text: str) -> "Term":
        long, _, short = text.partition("|")
        return cls(long.strip(), (short or long).strip())


@dataclass(frozen=True)
class Medication:
    name: str
    dose: str
    route: str | None          # key of ROUTES
    frequency: Term            # short: "BID", long: "twice daily"
    duration: str | None

    @classmethod
    def parse(cls, text: str) -> "Medication":
        name, dose, route, frequency, duration = (p.strip() for p in text.split(";"))
        short, _, long = frequency.partition("=")
        return cls(name, dose, route or None, Term(long.strip() or short.strip(), short.strip()), duration or None)


@dataclass(frozen=True)
class Study:
    modality: Term             # short: "CXR", long: "chest X-ray"
    finding: str

    @classmethod
    def parse(cls, text: str) -> "Study":
        modality, _, finding = text.partition(":")
        short, _, long = modality.partition("=")
        return cls(Term(long.strip() or short.strip(), short.strip()), finding.strip())


@dataclass(frozen=True)
class Condition:
    """One presenting problem. `vitals` names the abnormal ones: fever, tachycardia,
    hypertension, tachypnea, hypoxia."""

    diagnosis: Term
    symptoms: tuple[Term, ...]
    negatives: tuple[Term, ...]
    exam: tuple[str, ...]
    studies: tuple[Study, ...]
    medications: tuple[Medication, ...]
    follow_up: tuple[str, ...]
    vitals: frozenset[str]
    children: bool = False     # also presents in children (ages 6-12), with doses that suit them
    inpatient: bool = False    # severe enough for an admission and a discharge summary


@dataclass(frozen=True)
class Comorbidity:
    diagnosis: Term
    medication: Medication


# Short and long forms of each route.
ROUTES: dict[str, Term] = {
    "oral": Term("by mouth", "PO"), "inhaled": Term("inhaled", "INH"), "topical": Term("topically", "topical"),
    "iv": Term("intravenously", "IV"), "sc": Term("subcutaneously", "SC"), "nasal": Term("intranasally", "nasal"),
}


def _terms(text: str) -> tuple[Term, ...]:
    return tuple(Term.parse(t) for t in text.split(";") if t.strip())


def condition(diagnosis: str, *, symptoms: str, negatives: str, exam: str, studies: tuple[str, ...] = (),
              medications: tuple[str, ...], follow_up: str, vitals: str = "", children: bool = False,
              inpatient: bool = False) -> Condition:
    return Condition(Term.parse(diagnosis), _terms(symptoms), _terms(negatives),
                     tuple(e.strip() for e in exam.split(";")), tuple(Study.parse(s) for s in studies),
                     tuple(Medication.parse(m) for m in medications),
                     tuple(f.strip() for f in follow_up.split(";")), frozenset(vitals.split()), children, inpatient)


CONDITIONS: tuple[Condition, ...] = (
    condition("community-acquired pneumonia|CAP",
              symptoms="productive cough; fever; shortness of breath|SOB; fatigue; chills",
              negatives="hemoptysis; leg swelling; night sweats; recent travel",
              exam="crackles at the right base; decreased breath sounds on the left",
              studies=("CXR=chest X-ray: right lower lobe consolidation",
                       "CXR=chest X-ray: left lower lobe infiltrate"),
              medications=("amoxicillin; 1 g; oral; TID=three times daily; 5 days",
                           "azithromycin; 500 mg; oral; daily=once daily; 3 days",
                           "doxycycline; 100 mg; oral; BID=twice daily; 7 days"),
              follow_up="1 week; 48-72 hours; 7-10 days", vitals="fever tachycardia tachypnea hypoxia", inpatient=True),
    condition("acute bronchitis",
              symptoms="dry cough; chest soreness; low-grade fever; hoarseness",
              negatives="shortness of breath|SOB; hemoptysis; wheezing",
              exam="scattered rhonchi that clear with coughing; no focal consolidation",
              medications=("benzonatate; 100 mg; oral; TID PRN=three times daily as needed; 7 days",
                           "guaifenesin; 400 mg; oral; q4h PRN=every 4 hours as needed; "),
              follow_up="2 weeks; 10 days", vitals="fever"),
    condition("asthma exacerbation",
              symptoms="wheezing; shortness of breath|SOB; chest tightness; nocturnal cough",
              negatives="fever; chest pain|CP; sputum production",
              exam="diffuse expiratory wheezes; prolonged expiratory phase",
              studies=("CXR=chest X-ray: hyperinflation without focal consolidation",),
              medications=("albuterol; 2 puffs; inhaled; q4h PRN=every 4 hours as needed; ",
                           "prednisone; 40 mg; oral; daily=once daily; 5 days",
                           "fluticasone-salmeterol; 250/50 mcg; inhaled; BID=twice daily; "),
              follow_up="1 week; 3-5 days", vitals="tachycardia tachypnea hypoxia", inpatient=True),
    condition("COPD exacerbation",
              symptoms="increased sputum; worsening dyspnea; wheezing; cough",
              negatives="fever; chest pain|CP; leg swelling",
              exam="poor air movement bilaterally; scattered wheezes",
              studies=("CXR=chest X-ray: hyperinflated lungs, no infiltrate",),
              medications=("prednisone; 40 mg; oral; daily=once daily; 5 days",
                           "azithromycin; 250 mg; oral; daily=once daily; 5 days",
                           "tiotropium; 18 mcg; inhaled; daily=once daily; "),
              follow_up="1 week; 2 weeks", vitals="tachypnea hypoxia tachycardia", inpatient=True),
    condition("CHF exacerbation",
              symptoms="worsening dyspnea on exertion|DOE; orthopnea; bilateral leg swelling; weight gain of 4 kg",
              negatives="chest pain|CP; fever; syncope",
              exam="bibasilar crackles; JVD to the angle of the jaw; 2+ pitting edema to the knees",
              studies=("CXR=chest X-ray: pulmonary vascular congestion and small bilateral effusions",
                       "TTE=echocardiogram: LVEF 30%"),
              medications=("furosemide; 40 mg; iv; BID=twice daily; ",
                           "metoprolol succinate; 50 mg; oral; daily=once daily; ",
                           "spironolactone; 25 mg; oral; daily=once daily; "),
              follow_up="1 week; 7 days", vitals="tachypnea hypoxia hypertension", inpatient=True),
    condition("urinary tract infection|UTI",
              symptoms="dysuria; urinary frequency; suprapubic pain; urgency",
              negatives="fever; flank pain; vaginal discharge; hematuria",
              exam="mild suprapubic tenderness; no CVA tenderness",
              medications=("nitrofurantoin; 100 mg; oral; BID=twice daily; 5 days",
                           "trimethoprim-sulfamethoxazole; 800/160 mg; oral; BID=twice daily; 3 days"),
              follow_up="PRN; 1 week"),
    condition("acute pyelonephritis",
              symptoms="flank pain; fever; dysuria; nausea",
              negatives="vomiting; hematuria; abdominal pain",
              exam="right CVA tenderness",
              studies=("US=renal ultrasound: no hydronephrosis",),
              medications=("ciprofloxacin; 500 mg; oral; BID=twice daily; 7 days",
                           "ondansetron; 4 mg; oral; q8h PRN=every 8 hours as needed; "),
              follow_up="48-72 hours; 1 week", vitals="fever tachycardia", inpatient=True),
    condition("left ureteral stone",
              symptoms="colicky left flank pain radiating to the groin; nausea; hematuria",
              negatives="fever; dysuria; diarrhea",
              exam="left CVA tenderness; patient unable to sit still",
              studies=("CT=CT abdomen/pelvis: 5 mm left ureterovesical junction stone with mild hydronephrosis",),
              medications=("tamsulosin; 0.4 mg; oral; daily=once daily; 2 weeks",
                           "ketorolac; 15 mg; iv; once=once; ",
                           "oxycodone; 5 mg; oral; q6h PRN=every 6 hours as needed; 3 days"),
              follow_up="1 week; 2 weeks", vitals="tachycardia hypertension", inpatient=True),
    condition("migraine without aura",
              symptoms="throbbing headache; photophobia; nausea; phonophobia",
              negatives="fever; neck stiffness; vision loss; weakness",
              exam="normal neurologic exam; no papilledema",
              studies=("CT head=CT of the head: no acute intracranial abnormality",),
              medications=("sumatriptan; 50 mg; oral; PRN=as needed; ",
                           "naproxen; 500 mg; oral; BID PRN=twice daily as needed; ",
                           "metoclopramide; 10 mg; iv; once=once; "),
              follow_up="4 weeks; 6 weeks"),
    condition("tension-type headache",
              symptoms="band-like headache|HA; neck tightness; poor sleep",
              negatives="vision changes; nausea; fever; numbness",
              exam="tender trapezius muscles; normal neurologic exam",
              medications=("ibuprofen; 400 mg; oral; q6h PRN=every 6 hours as needed; ",
                           "amitriptyline; 10 mg; oral; QHS=at bedtime; "),
              follow_up="6 weeks; 1 month"),
    condition("essential hypertension|HTN",
              symptoms="occasional morning headaches; elevated home blood pressure readings",
              negatives="chest pain|CP; shortness of breath|SOB; vision changes; leg swelling",
              exam="regular rate and rhythm; no carotid bruits",
              medications=("lisinopril; 20 mg; oral; daily=once daily; ",
                           "amlodipine; 5 mg; oral; daily=once daily; ",
                           "hydrochlorothiazide; 12.5 mg; oral; daily=once daily; "),
              follow_up="3 months; 4 weeks", vitals="hypertension"),
    condition("type 2 diabetes mellitus|DM2",
              symptoms="polyuria; polydipsia; fatigue; blurry vision",
              negatives="foot ulcers; chest pain|CP; numbness in the feet",
              exam="intact monofilament sensation; no foot lesions",
              medications=("metformin; 1000 mg; oral; BID=twice daily; ",
                           "empagliflozin; 10 mg; oral; daily=once daily; ",
                           "insulin glargine; 10 units; sc; QHS=at bedtime; "),
              follow_up="3 months; 6 weeks"),
    condition("gastroesophageal reflux disease|GERD",
              symptoms="heartburn; regurgitation; sour taste in the mouth; burning chest discomfort after meals",
              negatives="dysphagia; weight loss; melena; vomiting",
              exam="mild epigastric tenderness",
              medications=("omeprazole; 20 mg; oral; daily=once daily; 8 weeks",
                           "famotidine; 20 mg; oral; QHS=at bedtime; "),
              follow_up="8 weeks; 2 months"),
    condition("acute gastroenteritis",
              symptoms="watery diarrhea; vomiting; abdominal cramps; decreased appetite",
              negatives="blood in stool; fever; recent antibiotics",
              exam="hyperactive bowel sounds; dry mucous membranes",
              medications=("ondansetron; 4 mg; oral; q8h PRN=every 8 hours as needed; 3 days",
                           "loperamide; 2 mg; oral; PRN=as needed; "),
              follow_up="48 hours; PRN", vitals="tachycardia"),
    condition("cellulitis of the left lower leg",
              symptoms="redness of the left lower leg; leg pain; warmth; swelling",
              negatives="fever; drainage; calf tenderness",
              exam="well-demarcated erythema over the left shin; no fluctuance",
              studies=("US=ultrasound: subcutaneous edema without abscess",),
              medications=("cephalexin; 500 mg; oral; QID=four times daily; 7 days",
                           "clindamycin; 300 mg; oral; TID=three times daily; 7 days"),
              follow_up="48-72 hours; 3 days", inpatient=True),
    condition("deep vein thrombosis|DVT",
              symptoms="left calf pain; left leg swelling; leg heaviness",
              negatives="shortness of breath|SOB; chest pain|CP; hemoptysis",
              exam="left calf 3 cm larger than right; tenderness along the deep veins",
              studies=("LE doppler=venous doppler ultrasound: occlusive thrombus in the left popliteal vein",),
              medications=("apixaban; 10 mg; oral; BID=twice daily; 7 days",),
              follow_up="1 week; 2 weeks", vitals="tachycardia", inpatient=True),
    condition("atrial fibrillation|AFib",
              symptoms="palpitations; fatigue; lightheadedness",
              negatives="syncope; chest pain|CP; focal weakness",
              exam="irregularly irregular rhythm",
              studies=("TTE=echocardiogram: LVEF 55% with a mildly dilated left atrium",),
              medications=("metoprolol succinate; 25 mg; oral; daily=once daily; ",
                           "apixaban; 5 mg; oral; BID=twice daily; "),
              follow_up="2 weeks; 1 month", vitals="tachycardia", inpatient=True),
    condition("streptococcal pharyngitis",
              symptoms="sore throat; fever; painful swallowing; swollen neck glands",
              negatives="cough; rhinorrhea; drooling",
              exam="tonsillar exudates; tender anterior cervical nodes",
              medications=("amoxicillin; 500 mg; oral; BID=twice daily; 10 days",
                           "penicillin V; 500 mg; oral; BID=twice daily; 10 days"),
              follow_up="PRN; 1 week", vitals="fever", children=True),
    condition("acute otitis media",
              symptoms="right ear pain; fever; irritability; pulling at the ear",
              negatives="ear drainage; vomiting; rash",
              exam="bulging, erythematous right tympanic membrane",
              medications=("amoxicillin; 90 mg/kg/day; oral; divided BID=divided twice daily; 10 days",
                           "acetaminophen; 15 mg/kg; oral; q6h PRN=every 6 hours as needed; "),
              follow_up="48-72 hours; 2 weeks", vitals="fever", children=True),
    condition("acute bacterial sinusitis",
              symptoms="facial pain; nasal congestion; purulent nasal discharge; maxillary tooth pain",
              negatives="vision changes; periorbital swelling; neck stiffness",
              exam="maxillary sinus tenderness; purulent drainage in the nares",
              medications=("amoxicillin-clavulanate; 875 mg; oral; BID=twice daily; 7 days",
                           "fluticasone nasal spray; 2 sprays; nasal; daily=once daily; "),
              follow_up="10 days; PRN"),
    condition("influenza A",
              symptoms="fever; myalgias; dry cough; headache; sore throat",
              negatives="shortness of breath|SOB; chest pain|CP; confusion",
              exam="mild pharyngeal erythema; clear lungs",
              medications=("oseltamivir; 75 mg; oral; BID=twice daily; 5 days",),
              follow_up="PRN; 1 week", vitals="fever tachycardia"),
    condition("COVID-19",
              symptoms="fever; cough; loss of taste and smell; fatigue",
              negatives="shortness of breath|SOB; chest pain|CP; diarrhea",
              exam="clear lungs; no respiratory distress",
              studies=("CXR=chest X-ray: no acute cardiopulmonary process",),
              medications=("nirmatrelvir-ritonavir; 300 mg/100 mg; oral; BID=twice daily; 5 days",),
              follow_up="PRN; 1 week", vitals="fever"),
    condition("acute lumbar strain",
              symptoms="low back pain|LBP; muscle spasm; stiffness after lifting",
              negatives="leg weakness; urinary incontinence; saddle anesthesia; fever",
              exam="paraspinal muscle tenderness; full strength in both legs",
              studies=("L-spine XR=lumbar spine X-ray: no acute fracture",),
              medications=("naproxen; 500 mg; oral; BID=twice daily; 10 days",
                           "cyclobenzaprine; 5 mg; oral; QHS PRN=at bedtime as needed; 7 days"),
              follow_up="2 weeks; 4 weeks"),
    condition("right ankle sprain",
              symptoms="right ankle pain; ankle swelling; difficulty bearing weight",
              negatives="numbness; knee pain",
              exam="tenderness over the anterior talofibular ligament; no bony tenderness",
              studies=("XR ankle=ankle X-ray: no fracture",),
              medications=("ibuprofen; 600 mg; oral; TID PRN=three times daily as needed; 7 days",),
              follow_up="2 weeks; 10 days"),
    condition("major depressive disorder|MDD",
              symptoms="low mood; anhedonia; poor sleep; low energy; poor concentration",
              negatives="suicidal ideation|SI; hallucinations; substance use",
              exam="flat affect; linear thought process",
              medications=("sertraline; 50 mg; oral; daily=once daily; ",
                           "trazodone; 50 mg; oral; QHS PRN=at bedtime as needed; "),
              follow_up="4 weeks; 6 weeks"),
    condition("generalized anxiety disorder|GAD",
              symptoms="excessive worry; restlessness; trouble falling asleep; muscle tension",
              negatives="panic attacks; suicidal ideation|SI; palpitations",
              exam="anxious affect; normal speech",
              medications=("escitalopram; 10 mg; oral; daily=once daily; ",
                           "hydroxyzine; 25 mg; oral; TID PRN=three times daily as needed; "),
              follow_up="4 weeks; 1 month"),
    condition("hypothyroidism",
              symptoms="fatigue; weight gain; cold intolerance; constipation; dry skin",
              negatives="palpitations; tremor; neck swelling",
              exam="delayed relaxation of reflexes; no goiter",
              studies=("US thyroid=thyroid ultrasound: diffusely heterogeneous gland without nodules",),
              medications=("levothyroxine; 50 mcg; oral; daily=once daily; ",),
              follow_up="6 weeks; 6-8 weeks"),
    condition("iron deficiency anemia",
              symptoms="fatigue; exertional dyspnea; pallor; craving ice",
              negatives="melena; hematemesis; heavy menstrual bleeding",
              exam="conjunctival pallor; soft systolic flow murmur",
              medications=("ferrous sulfate; 325 mg; oral; daily=once daily; 3 months",),
              follow_up="4 weeks; 6 weeks", vitals="tachycardia"),
    condition("allergic rhinitis",
              symptoms="sneezing; nasal congestion; itchy eyes; clear rhinorrhea",
              negatives="fever; facial pain; wheezing",
              exam="pale, boggy nasal turbinates; allergic shiners",
              medications=("cetirizine; 10 mg; oral; daily=once daily; ",
                           "fluticasone nasal spray; 2 sprays; nasal; daily=once daily; "),
              follow_up="3 months; PRN", children=True),
    condition("contact dermatitis",
              symptoms="itchy rash on both hands; redness; cracking skin",
              negatives="fever; blistering; mouth sores",
              exam="erythematous, lichenified plaques on the dorsal hands",
              medications=("triamcinolone 0.1% cream; thin layer; topical; BID=twice daily; 2 weeks",
                           "cetirizine; 10 mg; oral; QHS=at bedtime; "),
              follow_up="2 weeks; 3 weeks"),
    condition("acute gout flare",
              symptoms="painful swollen right big toe; redness of the toe; pain at night",
              negatives="fever; trauma; other joint pain",
              exam="exquisitely tender, erythematous first MTP joint",
              studies=("XR foot=foot X-ray: soft tissue swelling without erosions",),
              medications=("colchicine; 0.6 mg; oral; BID=twice daily; 5 days",
                           "prednisone; 30 mg; oral; daily=once daily; 5 days"),
              follow_up="2 weeks; 1 month"),
    condition("concussion",
              symptoms="headache; dizziness; trouble concentrating; light sensitivity",
              negatives="loss of consciousness|LOC; vomiting; neck pain; seizure",
              exam="normal neurologic exam; normal gait",
              studies=("CT head=CT of the head: no acute intracranial hemorrhage",),
              medications=("acetaminophen; 500 mg; oral; q6h PRN=every 6 hours as needed; ",),
              follow_up="1 week; 7-10 days"),
)

COMORBIDITIES: tuple[Comorbidity, ...] = tuple(
    Comorbidity(Term.parse(diagnosis), Medication.parse(medication)) for diagnosis, medication in (
        ("hypertension|HTN", "lisinopril; 10 mg; oral; daily=once daily; "),
        ("type 2 diabetes|DM2", "metformin; 500 mg; oral; BID=twice daily; "),
        ("hyperlipidemia|HLD", "atorvastatin; 40 mg; oral; QHS=at bedtime; "),
        ("hypothyroidism", "levothyroxine; 75 mcg; oral; daily=once daily; "),
        ("gastroesophageal reflux disease|GERD", "pantoprazole; 40 mg; oral; daily=once daily; "),
        ("osteoarthritis|OA", "acetaminophen; 1 g; oral; TID PRN=three times daily as needed; "),
        ("benign prostatic hyperplasia|BPH", "finasteride; 5 mg; oral; daily=once daily; "),
        ("asthma", "budesonide-formoterol; 160/4.5 mcg; inhaled; BID=twice daily; "),
    )
)
