"""The citation verifier: is each sentence of an answer supported by the passages it cites?
Unsupported sentences are then removed or flagged by answer.py (DESIGN.md §3).

The question is ALCE's citation recall (Gao et al. 2023, "Enabling Large Language Models to
Generate Text with Citations"): does the concatenation of a sentence's cited passages entail
it? ALCE asks an NLI model (TRUE); offline there is none (DESIGN.md §4), so the entailment
judge is the answer model itself, asked a yes/no question and read through the log-probs of
its two possible replies (P(True) of Kadavath et al. 2022), with two cheap signals beside it:

    sentence ─▶ connective/meta ("Here are two options:")? ──yes──▶ supported=None, kept
        │ cited numbers that name a source? ──none──▶ unsupported ("uncited" / "cites [7]…")
        ▼
    evidence = the cited passages, instruction-like sentences dropped (prompts.drop_instructions)
    L  lexical   share of the claim's content words found in the evidence        (pure)
    E  embedding best cosine(claim, evidence sentence), scaled to [0, 1]       (optional)
    J  judge     P(SUPPORTED) = sigmoid(log p(SUPPORTED) - log p(UNSUPPORTED)), its boundary
                 calibrated on two anchor pairs per model (JudgeCalibration)   (optional)
    hard rules, any one fails the sentence:
        max(L, E) < min_grounding          the claim shares (almost) nothing with its source
        a number of the claim is not in the evidence           (years, doses: strict_numbers)
        J < judge_veto                     the judge is confident it is not supported
    score = weighted mean of the signals present; supported iff no rule failed and
            score >= threshold
    failed, and repoint on: try the other passages, best lexical match first; the first that
    passes the same test becomes the citation ("re-pointed [1] -> [2]").

Wrong citations are re-pointed rather than dropped: the claim is grounded, only the number
was wrong, and a reader is better served by the right source than by a missing sentence.
The judge is asked only when the cheap rules pass, so a hopeless sentence costs no model call.
Every step is deterministic (greedy log-probs, sorted ties), and every signal can be switched
off in `VerifierConfig`. The default thresholds are hand-set, not yet calibrated on a golden
set: they favour removing a true sentence over keeping a false one.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args
from weakref import WeakKeyDictionary

import numpy as np

from assistant.citations import AnswerSentence, split_valid, with_markers
from assistant.context import focus_passage
from assistant.llm.base import ChatLLM
from assistant.prompts import JUDGE_ANCHORS, JUDGE_LABELS, drop_instructions, judge_head, judge_messages
from assistant.words import META_WORDS, content_words, normalize_word, numbers_in  # noqa: F401 - re-exported
from knowledge.chunking.sentences import sentence_spans
from knowledge.embedder import Embedder
from knowledge.errors import CairnError


JudgeCalibrationMode = Literal["anchors", "none"]


class VerifierConfigError(CairnError):
    """A VerifierConfig value that cannot work; the message names it and the valid range."""


@dataclass(frozen=True)
class VerifierConfig:
    """How sentences are checked. Weights need not sum to 1: the score is a weighted mean over
    the signals actually computed (embedding needs an embedder, the judge a model).

    Fields:
        use_lexical / use_embedding / use_judge: switch each signal on or off.
        lexical_weight / embedding_weight / judge_weight: their weights in the score.
        threshold: lowest score of a supported sentence.
        min_grounding: lowest max(L, E); below it the claim shares (almost) nothing with its
            source. 0.25 removes "Arrival won three Oscars for its music [1]" against a
            synopsis of Arrival (1 of 5 content words).
        judge_veto: P(SUPPORTED) below this fails the sentence whatever L and E say: word
            overlap cannot see "not" or a swapped subject, the judge can.
        strict_numbers: a number in the claim (year, dose, count) must appear in the evidence.
        embedding_low / embedding_high: cosines mapped to E = 0 and E = 1. Measured with
            MiniLM on 9 claim/passage pairs: unrelated -0.03..0.03, paraphrases 0.48..0.86,
            on-topic but false claims 0.23..0.50. E tells topicality, not truth: it helps
            the grounding rule and has the smallest weight.
        repoint: try other sources when the cited ones fail (wrong-citation repair).
        repoint_candidates: how many other sources to try (each may cost a judge call).
        attach_missing: also look for a source for a factual sentence with no marker, and cite
            it when that source supports the sentence (the same checks as a written citation).
            On by default: the small models often state a correct fact from the sources without
            its marker — with the 0.5B model, 9 of the first 10 notes questions were refused
            for that alone (`cairn eval --fast`, 2026-11-22).
        ignore_instructions: drop instruction-like sentences from evidence (prompts.py).
        judge_evidence_tokens: the judge reads each cited passage focused on the claim: its
            metadata line and the sentences sharing the most words with the claim, within this
            many tokens (context.focus_passage); None (default): the whole passage. The cheap
            signals always see the whole passage. Off by default: alone, at 48 tokens, on 30
            catalog_qa cases it cut judge tokens evaluated by 13% (-43, CI [-95, +6]) and 3
            answerable questions more were refused (refusal accuracy 0.833 -> 0.733, CI
            [-0.233, 0.000]): "Vertigo was filmed ... in black-and-white [1]" lost its evidence.
        judge_calibration: "anchors" (default) re-centres the judge on the model's own answers
            to prompts.JUDGE_ANCHORS (4 extra calls, once per model object); "none" reads
            P(SUPPORTED) as is. A model that cannot tell the anchors apart loses the judge.
    """

    use_lexical: bool = True
    use_embedding: bool = True
    use_judge: bool = True
    lexical_weight: float = 0.3
    embedding_weight: float = 0.2
    judge_weight: float = 0.5
    threshold: float = 0.6
    min_grounding: float = 0.25
    judge_veto: float = 0.2
    strict_numbers: bool = True
    embedding_low: float = 0.2
    embedding_high: float = 0.7
    repoint: bool = True
    repoint_candidates: int = 2
    attach_missing: bool = True
    ignore_instructions: bool = True
    judge_calibration: JudgeCalibrationMode = "anchors"
    judge_evidence_tokens: int | None = None

    def __post_init__(self) -> None:
        for name in ("lexical_weight", "embedding_weight", "judge_weight"):
            if not getattr(self, name) >= 0:
                raise VerifierConfigError(f"VerifierConfig.{name}={getattr(self, name)!r} must be >= 0")
        for name in ("threshold", "min_grounding", "judge_veto"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise VerifierConfigError(f"VerifierConfig.{name}={getattr(self, name)!r} must be in [0, 1]")
        if not -1.0 <= self.embedding_low < self.embedding_high <= 1.0:
            raise VerifierConfigError(f"VerifierConfig embedding_low={self.embedding_low} and embedding_high="
                                      f"{self.embedding_high} must satisfy -1 <= low < high <= 1 (cosines)")
        if isinstance(self.repoint_candidates, bool) or not isinstance(self.repoint_candidates, int) \
                or self.repoint_candidates < 1:
            raise VerifierConfigError(f"VerifierConfig.repoint_candidates={self.repoint_candidates!r} must be an "
                                      "integer >= 1 (turn repointing off with repoint=False)")
        if self.judge_evidence_tokens is not None and (isinstance(self.judge_evidence_tokens, bool) or not isinstance(
                self.judge_evidence_tokens, int) or self.judge_evidence_tokens < 16):
            raise VerifierConfigError(f"VerifierConfig.judge_evidence_tokens={self.judge_evidence_tokens!r} must be an "
                                      "integer >= 16 (a sentence or two), or None for whole passages")
        if self.judge_calibration not in get_args(JudgeCalibrationMode):
            raise VerifierConfigError(f"VerifierConfig.judge_calibration={self.judge_calibration!r} is unknown; use "
                                      f"one of {', '.join(get_args(JudgeCalibrationMode))}")
        if not any(weight > 0 for weight in self.weights.values()):
            raise VerifierConfigError("VerifierConfig enables no signal with a positive weight; turn on at least "
                                      "one of use_lexical, use_embedding, use_judge with a weight > 0")

    @property
    def weights(self) -> dict[str, float]:
        """Weights of the switched-on signals, by signal name."""
        return {name: weight for name, on, weight in (("lexical", self.use_lexical, self.lexical_weight),
                                                       ("embedding", self.use_embedding, self.embedding_weight),
                                                       ("judge", self.use_judge, self.judge_weight)) if on}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Support:
    """The outcome of checking one claim against a set of sources."""

    supported: bool
    score: float
    reason: str
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SentenceCheck:
    """One answer sentence, verified.

    Fields:
        text: the sentence as it will be shown (markers rewritten if it was re-pointed).
        cited: the sources it cites after verification (valid numbers only).
        supported: True / False, or None for a connective sentence or when not verified.
        score: the combined score in [0, 1] (None when nothing was computed).
        reason: one line on why, for traces and the UI.
        original_cited: the numbers as the model wrote them.
        signals: the signal values behind `score` (lexical, embedding, judge).
    """

    text: str
    cited: list[int]
    supported: bool | None
    score: float | None
    reason: str
    original_cited: list[int] = field(default_factory=list)
    signals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise ValueError(f"SentenceCheck score {self.score!r} must be None or in [0, 1]")

    @property
    def repointed(self) -> bool:
        """Verification moved the citation to a source the model did not cite."""
        return self.supported is True and bool(set(self.cited) - set(self.original_cited))


# -- pure evidence functions -----------------------------------------------------------------------

@dataclass(frozen=True)
class LexicalEvidence:
    """coverage: share of the claim's content words present in the evidence (0 when the claim
    has none); missing: those absent; missing_numbers: the claim's numbers absent."""

    coverage: float
    missing: tuple[str, ...]
    missing_numbers: tuple[str, ...]


def lexical_support(claim: str, evidence: str) -> LexicalEvidence:
    """Containment of the claim's content words in the evidence (a one-sided ROUGE-1 recall
    over sets: the claim must be in the source, not the source in the claim)."""
    words, found = content_words(claim), content_words(evidence)
    missing = tuple(sorted(words - found))
    coverage = (len(words) - len(missing)) / len(words) if words else 0.0
    return LexicalEvidence(coverage, missing, tuple(sorted(numbers_in(claim) - numbers_in(evidence))))


_MAX_LOGODDS = 30.0  # one reply impossible (-inf): a finite, decisive value instead of inf


def judge_logodds(logprobs: Mapping[str, float], yes: str = JUDGE_LABELS[0], no: str = JUDGE_LABELS[1]) -> float:
    """log p(yes) - log p(no): the log-odds of yes once the two replies are renormalised to
    sum to 1. Both -inf (the model would say something else entirely) -> 0, no information."""
    a, b = logprobs.get(yes, -math.inf), logprobs.get(no, -math.inf)
    if a == b == -math.inf:
        return 0.0
    return max(-_MAX_LOGODDS, min(_MAX_LOGODDS, a - b))


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    return math.exp(x) / (1.0 + math.exp(x))


def judge_probability(logprobs: Mapping[str, float], yes: str = JUDGE_LABELS[0], no: str = JUDGE_LABELS[1]) -> float:
    """P(yes) renormalised over the two replies: sigmoid(log p(yes) - log p(no))."""
    return sigmoid(judge_logodds(logprobs, yes, no))


@dataclass(frozen=True)
class JudgeCalibration:
    """An affine map of the judge's log-odds: x -> (x - center) * scale. Two-point calibration
    in the spirit of Zhao et al. 2021 ("Calibrate Before Use"): a small model's yes/no ranking
    is often right while its boundary is far from 0, so measure the boundary on anchors."""

    center: float
    scale: float

    def probability(self, logodds: float) -> float:
        return sigmoid((logodds - self.center) * self.scale)


ANCHOR_LOGODDS = 2.0  # calibrated log-odds of the anchors: P = 0.88 for the supported ones
MIN_ANCHOR_SPREAD = 1.0  # below this the model barely tells the anchors apart: no judge


def fit_calibration(supported: Sequence[float], unsupported: Sequence[float]) -> JudgeCalibration | None:
    """The map sending the mean log-odds of the supported anchors to +ANCHOR_LOGODDS and of
    the unsupported ones to -ANCHOR_LOGODDS; None when they are less than MIN_ANCHOR_SPREAD
    apart (or inverted): such a judge is noise and is left out."""
    if not supported or not unsupported:
        raise ValueError("fit_calibration needs at least one supported and one unsupported anchor score")
    high, low = sum(supported) / len(supported), sum(unsupported) / len(unsupported)
    if high - low < MIN_ANCHOR_SPREAD:
        return None
    return JudgeCalibration(center=(high + low) / 2, scale=2 * ANCHOR_LOGODDS / (high - low))


def scale_cosine(cosine: float, low: float, high: float) -> float:
    """Cosine mapped linearly to [0, 1]: <= low -> 0, >= high -> 1."""
    return min(1.0, max(0.0, (cosine - low) / (high - low)))


def combine(signals: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Weighted mean of the signals that have a weight; 0 when none does."""
    pairs = [(weights[name], value) for name, value in signals.items() if weights.get(name, 0) > 0]
    total = sum(w for w, _ in pairs)
    return sum(w * v for w, v in pairs) / total if total else 0.0


_MAX_LEAD_IN_WORDS = 12


def is_connective(claim: str) -> bool:
    """A sentence that asserts nothing checkable: no digits, and either a short lead-in ending
    in ':' ("Here are two films that match:") or only meta words ("I hope this helps!").
    "In summary, both are thrillers." is NOT connective: "thrillers" is a claim."""
    if any(ch.isdigit() for ch in claim):
        return False
    if claim.rstrip().endswith(":") and len(claim.split()) <= _MAX_LEAD_IN_WORDS:
        return True
    return content_words(claim) <= META_WORDS


# -- the verifier ----------------------------------------------------------------------------------

class Verifier:
    """Checks sentences against numbered passages (`passages[n - 1]` is source n's text, as
    prompts.passage_text renders it). `llm` is the judge and `embedder` the embedding signal;
    either may be None, which switches that signal off. One instance serves one answer at a
    time (it caches the evidence of the passages it was last given)."""

    def __init__(self, llm: ChatLLM | None = None, config: VerifierConfig | None = None,
                 embedder: Embedder | None = None) -> None:
        self.llm, self.config, self.embedder = llm, config or VerifierConfig(), embedder
        self.judge_calls = 0
        # Judge prompt tokens sent, and those evaluated (the rest reused: pinned instruction,
        # passages shared with an earlier claim); from the backend's counters.
        self.judge_tokens = 0
        self.judge_tokens_evaluated = 0
        self._evidence: dict[int, str] = {}
        self._sentence_vectors: dict[int, np.ndarray] = {}
        self._passages: Sequence[str] = ()

    def verify(self, sentences: Sequence[AnswerSentence], passages: Sequence[str]) -> list[SentenceCheck]:
        """One SentenceCheck per sentence, in order."""
        return list(self.checks(sentences, passages))

    def checks(self, sentences: Sequence[AnswerSentence], passages: Sequence[str]) -> Iterator[SentenceCheck]:
        """`verify`, one sentence at a time: a caller can show each verdict as it is reached."""
        self._passages, self._evidence, self._sentence_vectors = passages, {}, {}
        for sentence in sentences:
            yield self._verify_one(sentence)

    def _verify_one(self, sentence: AnswerSentence) -> SentenceCheck:
        written = list(sentence.cited)
        valid, invalid = split_valid(sentence.cited, len(self._passages))
        note = f"; ignored [{', '.join(map(str, invalid))}] (no such source)" if invalid else ""
        if not written and is_connective(sentence.claim):
            return SentenceCheck(sentence.text, [], None, None, "connective sentence: nothing to check",
                                 original_cited=written)
        if valid:
            support = self._check(sentence.claim, valid)
            if support.supported:
                text = sentence.text if not invalid else with_markers(sentence.text, valid)
                return SentenceCheck(text, list(valid), True, support.score, support.reason + note, written,
                                     support.signals)
            failure = f"cited [{', '.join(map(str, valid))}]: {support.reason}"
        else:
            support = None
            failure = "no citation" if not written else f"cites [{', '.join(map(str, invalid))}], not in the context"
        if self.config.repoint and (written or self.config.attach_missing):
            found = self._repoint(sentence.claim, set(valid))
            if found is not None:
                n, better = found
                origin = f"[{', '.join(map(str, written))}]" if written else "no citation"
                return SentenceCheck(with_markers(sentence.text, [n]), [n], True, better.score,
                                     f"re-pointed {origin} -> [{n}]: {better.reason}", written, better.signals)
        return SentenceCheck(sentence.text, list(valid), False, support.score if support else None,
                             failure + (note if valid else ""), written, support.signals if support else {})

    def _check(self, claim: str, cited: Sequence[int]) -> Support:
        """Whether the union of sources `cited` (valid numbers) supports `claim`."""
        cfg = self.config
        evidence = "\n".join(self._evidence_of(n) for n in cited)
        signals: dict[str, float] = {}
        failures: list[str] = []
        lexical = lexical_support(claim, evidence)
        if cfg.use_lexical:
            signals["lexical"] = lexical.coverage
        if cfg.use_embedding and self.embedder is not None:
            signals["embedding"] = self._embedding_signal(claim, cited)
        grounding = [signals[k] for k in ("lexical", "embedding") if k in signals]
        if grounding and max(grounding) < cfg.min_grounding:
            failures.append(f"shares too little with the source (grounding {max(grounding):.2f} < "
                            f"{cfg.min_grounding}; missing {', '.join(lexical.missing[:5]) or '-'})")
        if cfg.strict_numbers and lexical.missing_numbers:
            failures.append(f"number(s) {', '.join(lexical.missing_numbers)} not in the source")
        judge = self._judge(claim, cited) if not failures and cfg.use_judge and self.llm is not None else None
        if judge is not None:
            signals["judge"] = judge
            if judge < cfg.judge_veto:
                failures.append(f"judge: UNSUPPORTED (p={signals['judge']:.2f} < {cfg.judge_veto})")
        score = combine(signals, cfg.weights)
        if not failures and score < cfg.threshold:
            failures.append(f"score {score:.2f} < threshold {cfg.threshold}")
        reason = "; ".join(failures) or f"supported (score {score:.2f}: " + ", ".join(
            f"{k} {v:.2f}" for k, v in signals.items()) + ")"
        return Support(not failures, score, reason, signals)

    def _repoint(self, claim: str, tried: set[int]) -> tuple[int, Support] | None:
        """The first other source, in order of lexical coverage (ties: lower n), that
        supports the claim on its own."""
        others = [n for n in range(1, len(self._passages) + 1) if n not in tried]
        ranked = sorted(others, key=lambda n: (-lexical_support(claim, self._evidence_of(n)).coverage, n))
        for n in ranked[: self.config.repoint_candidates]:
            support = self._check(claim, (n,))
            if support.supported:
                return n, support
        return None

    def _evidence_of(self, n: int) -> str:
        if n not in self._evidence:
            text = self._passages[n - 1]
            self._evidence[n] = drop_instructions(text) if self.config.ignore_instructions else text
        return self._evidence[n]

    def _embedding_signal(self, claim: str, cited: Sequence[int]) -> float:
        """Best cosine between the claim and any sentence of the cited evidence, scaled.
        Per sentence, not per passage: a long chunk's vector blurs the one line that matters."""
        assert self.embedder is not None
        for n in cited:
            if n not in self._sentence_vectors:
                text = self._evidence_of(n)
                pieces = [text[a:b].strip() for a, b in sentence_spans(text)] or [text]
                self._sentence_vectors[n] = self.embedder.encode(pieces)  # (sentences, dim), unit rows
        claim_vector = self.embedder.encode([claim])[0]  # (dim,)
        best = max(float(np.max(self._sentence_vectors[n] @ claim_vector)) for n in cited)
        return scale_cosine(best, self.config.embedding_low, self.config.embedding_high)

    def _judge(self, claim: str, cited: Sequence[int]) -> float | None:
        """P(SUPPORTED), calibrated per the config; None when calibration dropped the judge."""
        assert self.llm is not None
        self.llm.pin_prefix(judge_head())  # before the anchors too; a dictionary lookup once pinned
        calibration = self.calibration()
        if calibration is None:
            return None
        self.judge_calls += 1
        budget = self.config.judge_evidence_tokens
        messages = judge_messages(claim, [(n, self._evidence_of(n) if budget is None else
                                           focus_passage(self._evidence_of(n), claim, budget, self.llm.count_tokens))
                                          for n in cited])
        seen, evaluated = self.llm.prompt_tokens_seen, self.llm.prompt_tokens_evaluated
        logodds = judge_logodds(self.llm.token_logprob_of(messages, list(JUDGE_LABELS)))
        self.judge_tokens += self.llm.prompt_tokens_seen - seen
        self.judge_tokens_evaluated += self.llm.prompt_tokens_evaluated - evaluated
        return calibration.probability(logodds)

    def calibration(self) -> JudgeCalibration | None:
        """The judge's calibration (identity for "none"), fitted once per model object."""
        assert self.llm is not None
        if self.config.judge_calibration == "none":
            return _IDENTITY
        if self.llm not in _CALIBRATIONS:
            scores = {True: [], False: []}
            for passage, yes, no in JUDGE_ANCHORS:
                for claim, label in ((yes, True), (no, False)):
                    logprobs = self.llm.token_logprob_of(judge_messages(claim, [(1, passage)]), list(JUDGE_LABELS))
                    scores[label].append(judge_logodds(logprobs))
            _CALIBRATIONS[self.llm] = fit_calibration(scores[True], scores[False])
        return _CALIBRATIONS[self.llm]


_IDENTITY = JudgeCalibration(center=0.0, scale=1.0)
# Per model object, so a long-lived chat process pays the anchor calls once; weak, so a model
# that is closed and dropped does not stay alive through this cache.
_CALIBRATIONS: WeakKeyDictionary[ChatLLM, JudgeCalibration | None] = WeakKeyDictionary()
