"""BLEU (Papineni et al., 2002, "BLEU: a Method for Automatic Evaluation of Machine
Translation"), corpus- and sentence-level, following sacreBLEU's conventions (Post, 2018) so
that numbers are comparable with published ones:

    p_n   = sum over segments of clipped n-gram matches / sum of candidate n-grams, n = 1..4
            (clipping: an n-gram counts at most as often as in the reference; with several
            references, as often as in the reference holding the most of it)
    BP    = 1 if c >= r else exp(1 - r / c), where c = candidate tokens, r = reference tokens
            of the reference closest in length to each candidate (the shorter one on a tie)
    BLEU  = BP * exp(mean_n log p_n)

Scores are fractions in [0, 1] (sacreBLEU prints 100x). Text is tokenised with the
mteval-v13a rules (sacreBLEU's default '13a'), see `tokenize_13a`.

Smoothing (Chen & Cherry, 2014, "A Systematic Comparison of Smoothing Techniques for
Sentence-Level BLEU"), the same choices as sacreBLEU, applied to orders with no match:
    "exp"    (default, method 3, NIST mteval-v13a) the k-th such order gets p_n = 1 / (2^k * total_n)
    "floor"  (method 1) p_n = value / total_n, value 0.1 by default
    "add-k"  (method 2) add k (default 1) to matches and totals of orders n >= 2
    "none"   an order with no match makes BLEU 0
`corpus_bleu` uses all four orders (an order with no candidate n-grams at all makes BLEU 0);
`bleu` (sentence-level) uses the "effective order": orders the candidate is too short to
have are left out of the mean, so a three-word answer can still score. Either way BLEU is 0
when not a single unigram matches.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Literal, NamedTuple, Sequence, Union

from .text import ngram_counts

MAX_ORDER = 4
Smoothing = Literal["exp", "floor", "add-k", "none"]
# The smoothing value when none is given (only "floor" and "add-k" use one).
SMOOTHING_DEFAULTS: dict[str, float] = {"exp": 0.0, "floor": 0.1, "add-k": 1.0, "none": 0.0}

# mteval-v13a's tokenisation, step by step. 1: these ASCII symbols become tokens of their own
# (every printable non-alphanumeric except  ' , - .):
_SYMBOLS_RE = re.compile(r"""([!"#$%&()*+/:;<=>?@\[\\\]^_`{|}~])""")
# 2-3: a period or comma is split off unless it sits between digits on that side ("3.14",
# "1,000" stay whole; "end." and ".net" do not).
_PERIOD_AFTER_NONDIGIT_RE = re.compile(r"([^0-9])([.,])")
_PERIOD_BEFORE_NONDIGIT_RE = re.compile(r"([.,])([^0-9])")
# 4: a dash after a digit is split off ("5-10" -> "5 - 10"), other hyphens stay in the word.
_DASH_AFTER_DIGIT_RE = re.compile(r"([0-9])(-)")
# mteval unescapes these four entities; &amp; goes second so "&amp;lt;" ends as "<", as there.
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


class Stats(NamedTuple):
    """Sufficient statistics of BLEU; those of a corpus are the sums over its segments."""

    hyp_len: int
    ref_len: int
    matches: tuple[int, ...]  # (MAX_ORDER,) clipped n-gram matches per order
    totals: tuple[int, ...]  # (MAX_ORDER,) candidate n-grams per order


def tokenize_13a(text: str, lowercase: bool = False) -> list[str]:
    """mteval-v13a tokenisation as sacreBLEU applies it: 'Hello, world (2.5-3)!' ->
    ['Hello', ',', 'world', '(', '2.5', '-', '3', ')', '!']."""
    if lowercase:
        text = text.lower()
    # sacreBLEU strips trailing whitespace first, so a final "-\n" is not a line-break hyphen.
    text = text.rstrip().replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    # The padding lets rules 2-3 see a non-digit before a leading / after a trailing period.
    text = _SYMBOLS_RE.sub(r" \1 ", f" {text} ")
    text = _PERIOD_AFTER_NONDIGIT_RE.sub(r"\1 \2 ", text)
    text = _PERIOD_BEFORE_NONDIGIT_RE.sub(r" \1 \2", text)
    text = _DASH_AFTER_DIGIT_RE.sub(r"\1 \2 ", text)
    return text.split()


def sum_stats(stats: Iterable[Stats]) -> Stats:
    """Corpus statistics: the element-wise sum of segment statistics."""
    hyp_len, ref_len = 0, 0
    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    for s in stats:
        hyp_len, ref_len = hyp_len + s.hyp_len, ref_len + s.ref_len
        matches = [a + b for a, b in zip(matches, s.matches)]
        totals = [a + b for a, b in zip(totals, s.totals)]
    return Stats(hyp_len, ref_len, tuple(matches), tuple(totals))


def _all_ngrams(tokens: Sequence[str]) -> Counter[tuple]:
    grams: Counter[tuple] = Counter()
    for n in range(1, MAX_ORDER + 1):
        grams.update(ngram_counts(tokens, n))
    return grams


def _closest_length(hyp_len: int, ref_lens: Sequence[int]) -> int:
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def segment_stats(hyp_tokens: Sequence[str], refs_tokens: Sequence[Sequence[str]]) -> Stats:
    """Match statistics of one tokenised candidate against one or more tokenised references."""
    if not refs_tokens:
        raise ValueError("BLEU needs at least one reference per candidate, got none")
    ref_max: Counter[tuple] = Counter()
    for ref in refs_tokens:
        ref_max |= _all_ngrams(ref)  # | keeps the larger count of each n-gram
    matches, totals = [0] * MAX_ORDER, [0] * MAX_ORDER
    for gram, count in _all_ngrams(hyp_tokens).items():
        totals[len(gram) - 1] += count
        matches[len(gram) - 1] += min(count, ref_max[gram])
    return Stats(len(hyp_tokens), _closest_length(len(hyp_tokens), [len(r) for r in refs_tokens]),
                 tuple(matches), tuple(totals))


def brevity_penalty(hyp_len: int, ref_len: int) -> float:
    if hyp_len >= ref_len:
        return 1.0
    return math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0


def smoothed_precisions(stats: Stats, smoothing: Smoothing, value: float | None = None) -> list[float]:
    """p_1..p_N after smoothing; stops at the first order with no candidate n-grams (a shorter
    list), which the effective order then uses as N."""
    value = SMOOTHING_DEFAULTS[smoothing] if value is None else value
    precisions, halvings = [], 0
    for n, (match, total) in enumerate(zip(stats.matches, stats.totals), start=1):
        if smoothing == "add-k" and n > 1:
            match, total = match + value, total + value
        if total == 0:
            break
        if match > 0:
            precisions.append(match / total)
        elif smoothing == "exp":
            halvings += 1
            precisions.append(1.0 / (2 ** halvings * total))
        elif smoothing == "floor":
            precisions.append(value / total)
        else:
            precisions.append(0.0)
    return precisions


def bleu_from_stats(stats: Stats, smoothing: Smoothing = "exp", value: float | None = None,
                    effective_order: bool = False) -> dict[str, float]:
    """`bleu`, `brevity_penalty`, `precision_1..4` (0 for orders not computed), `hyp_len`, `ref_len`."""
    if smoothing not in SMOOTHING_DEFAULTS:
        raise ValueError(f"unknown BLEU smoothing {smoothing!r}; choose one of {sorted(SMOOTHING_DEFAULTS)}")
    bp = brevity_penalty(stats.hyp_len, stats.ref_len)
    out = {"bleu": 0.0, "brevity_penalty": bp, "hyp_len": float(stats.hyp_len), "ref_len": float(stats.ref_len)}
    out.update({f"precision_{n}": 0.0 for n in range(1, MAX_ORDER + 1)})
    if not any(stats.matches):
        return out  # nothing matches: 0, whatever the smoothing would have made of it
    precisions = smoothed_precisions(stats, smoothing, value)
    out.update({f"precision_{n}": p for n, p in enumerate(precisions, start=1)})
    order = len(precisions) if effective_order else MAX_ORDER
    used = precisions[:order]
    # A missing order (too few candidate n-grams) or a zero precision makes the geometric mean 0.
    if len(used) < order or min(used) == 0.0:
        return out
    out["bleu"] = bp * math.exp(sum(math.log(p) for p in used) / order)
    return out


def _stats(prediction: str, references: Union[str, Sequence[str]], lowercase: bool) -> Stats:
    refs = [references] if isinstance(references, str) else list(references)
    return segment_stats(tokenize_13a(prediction, lowercase), [tokenize_13a(r, lowercase) for r in refs])


def corpus_bleu(predictions: Sequence[str], references: Sequence[Union[str, Sequence[str]]], *,
                smoothing: Smoothing = "exp", smoothing_value: float | None = None,
                lowercase: bool = False) -> dict[str, float]:
    """Corpus BLEU: statistics summed over segments, then one score (not a mean of sentence
    scores). `references[i]` is the reference of `predictions[i]`, or a list of them."""
    if len(predictions) != len(references):
        raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; "
                         "pass one reference (or list of references) per prediction")
    total = sum_stats(_stats(pred, refs, lowercase) for pred, refs in zip(predictions, references))
    return bleu_from_stats(total, smoothing, smoothing_value, effective_order=False)


def bleu(prediction: str, reference: Union[str, Sequence[str]], *, smoothing: Smoothing = "exp",
         smoothing_value: float | None = None, lowercase: bool = False) -> dict[str, float]:
    """Sentence-level BLEU with smoothing and the effective order (sacreBLEU's `sentence_bleu`)."""
    return bleu_from_stats(_stats(prediction, reference, lowercase), smoothing, smoothing_value,
                           effective_order=True)
