"""`extract_note`: one clinical note to validated fields with evidence spans (DESIGN.md §3
`extract`). The only place the steps are put together:

    note ─▶ analyse (sections, negation scopes) ─▶ rules: all seven fields
         ├─ mode "rules":  rules
         ├─ mode "llm":    decode(all fields) ─▶ ground quotes ─▶ fields           (bad reply ─▶ rules)
         └─ mode "hybrid": decode(symptoms, diagnoses, imaging; rule hints) ─▶ ground quotes
                           + rules' vitals, medications, follow-up             (bad reply ─▶ rules)
                           + negated findings from the scopes, outside diagnoses/imaging
         ─▶ validate: negation respected, conflicts and repeats removed ─▶ spans verified
         ─▶ Extraction(fields, mode, trace, timings, model_id)

Deterministic: the rules are pure, and the model is called greedily (temperature 0, fixed seed),
so the same note on a freshly loaded model gives the same result. One llama.cpp instance reuses
the KV cache of the previous prompt's common prefix; that changes float rounding and, with a
small model, can flip a greedy token, so a note's result may depend on the note before it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

from assistant.llm.base import ChatLLM

from .decode import decode
from .errors import ExtractConfigError
from .grounding import ground_reply
from .prompt import HYBRID_FIELDS, build_messages, response_schema
from .rules import NoteAnalysis, analyse, negated_findings, rule_fields
from .schema import FIELDS, MODES, ExtractedFields, Extraction, Mode, TraceEvent, verify_spans
from .validate import validate_fields


@dataclass(frozen=True)
class ExtractConfig:
    """Knobs of the LLM modes.

    Fields:
        max_tokens: cap on the reply; None = 320 for hybrid, 900 for llm (the whole schema).
        hints: tell the model what the rules already found (negated findings, medications).
        repair: on an invalid reply, ask the model once to fix it before falling back to rules.
    """

    max_tokens: int | None = None
    hints: bool = True
    repair: bool = True

    def __post_init__(self) -> None:
        if self.max_tokens is not None and not 16 <= self.max_tokens <= 8192:
            raise ExtractConfigError(f"max_tokens={self.max_tokens} must be in 16..8192 (or None for the default)")

    def tokens_for(self, mode: Mode) -> int:
        return self.max_tokens or (900 if mode == "llm" else 320)


def _llm_fields(note: str, llm: ChatLLM, mode: Mode, rules: ExtractedFields, analysis: NoteAnalysis,
                config: ExtractConfig,
                trace: list[TraceEvent]) -> tuple[ExtractedFields | None, float]:
    """The model's fields (hybrid: merged with the rules'), or None when it gave no valid reply."""
    wanted = FIELDS if mode == "llm" else HYBRID_FIELDS
    hints = None
    if mode == "hybrid" and config.hints:
        hints = {"negated_findings": [e.text for e in rules.negated_findings],
                 "medications": [m.name.text for m in rules.medications]}
    decoded = decode(llm, build_messages(note, wanted, hints), response_schema(wanted),
                     max_tokens=config.tokens_for(mode), repair=config.repair)
    trace += decoded.trace
    if decoded.reply is None:
        return None, decoded.seconds
    grounded, events = ground_reply(note, decoded.reply, analysis)
    trace += events
    if mode == "llm":
        return ExtractedFields(**grounded), decoded.seconds
    found = replace(rules, **grounded)
    # Negations come from the rules, but a cue inside the model's diagnoses/imaging
    # ("migraine without aura") does not negate anything.
    exclude = [e.span for e in (*found.diagnoses, *found.imaging, *rules.diagnoses, *rules.imaging)]
    return replace(found, negated_findings=negated_findings(note, analysis.scopes, exclude)), decoded.seconds


def extract_note(text: str, *, llm: ChatLLM | None = None, mode: Mode = "hybrid",
                 config: ExtractConfig | None = None) -> Extraction:
    """Extract the DESIGN.md §2 fields from one note, each item with its evidence span.

    mode: "rules" (no model), "llm" (the model for every field, validated) or "hybrid" (the
        model for symptoms/diagnoses/imaging, rules for the rest). An LLM mode whose model
        gives no valid reply, even after one repair, falls back to rules and says so in trace.
    """
    if mode not in MODES:
        raise ExtractConfigError(f"mode={mode!r} is unknown; use one of {', '.join(MODES)}")
    if mode != "rules" and llm is None:
        raise ExtractConfigError(f"mode={mode!r} needs an LLM: pass llm=load_llm(LLMConfig(...)), "
                                 "or use mode='rules'")
    if not isinstance(text, str) or not text.strip():
        raise ExtractConfigError("the note is empty; pass the note's text (a .txt/.md file's contents)")
    config = config or ExtractConfig()
    started = time.perf_counter()
    analysis = analyse(text)
    rules = rule_fields(text, analysis)
    trace = [TraceEvent("rules", f"rules found {sum(1 for _ in rules.items())} pieces of evidence")]
    timings = {"rules_s": time.perf_counter() - started, "llm_s": 0.0}
    fields = rules
    if mode != "rules":
        from_llm, timings["llm_s"] = _llm_fields(text, llm, mode, rules, analysis, config, trace)
        if from_llm is None:
            trace.append(TraceEvent("fallback", f"{llm.model_id} gave no valid reply; every field comes from "
                                                "the rules"))
        else:
            fields = from_llm
    clock = time.perf_counter()
    fields, events = validate_fields(fields, text, analysis.scopes, analysis.sections)
    verify_spans(fields, text)
    trace += events
    timings["validate_s"] = time.perf_counter() - clock
    timings["total_s"] = time.perf_counter() - started
    return Extraction(fields=fields, mode=mode, trace=tuple(trace), timings=timings,
                      model_id=llm.model_id if llm is not None and mode != "rules" else None)
