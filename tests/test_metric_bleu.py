"""BLEU: hand-worked numbers, the 13a tokenizer, and parity with sacreBLEU."""
import math
import random

import pytest

from evals.metrics.bleu import bleu, corpus_bleu, segment_stats, tokenize_13a

PRED, REF = "the cat sat on the mat", "the cat is on the mat"


def test_hand_worked_sentence():
    # 1-grams: the x2, cat, on, mat match (sat does not)                 -> 5/6
    # 2-grams: (the cat) (on the) (the mat) match; (cat sat) (sat on) not -> 3/5
    # 3-grams: only (on the mat)                                           -> 1/4
    # 4-grams: none of 3                                                   -> 0/3
    stats = segment_stats(PRED.split(), [REF.split()])
    assert stats.matches == (5, 3, 1, 0) and stats.totals == (6, 5, 4, 3)
    s = bleu(PRED, REF)
    # exp smoothing: the first order without a match gets 1 / (2 * 3); equal lengths, BP = 1.
    # BLEU = (5/6 * 3/5 * 1/4 * 1/6) ** (1/4) = (1/48) ** (1/4)
    assert s["precision_4"] == pytest.approx(1 / 6)
    assert s["brevity_penalty"] == 1.0
    assert s["bleu"] == pytest.approx(48 ** -0.25)
    assert bleu(PRED, REF, smoothing="none")["bleu"] == 0.0
    # floor: p4 = 0.1 / 3; add-k: p2..p4 = (m + 1) / (t + 1) = 4/6, 2/5, 1/4
    assert bleu(PRED, REF, smoothing="floor")["bleu"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)
    assert bleu(PRED, REF, smoothing="add-k")["bleu"] == pytest.approx((5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25)
    assert bleu(REF, REF)["bleu"] == pytest.approx(1.0)


def test_brevity_penalty_and_effective_order():
    # "the cat" vs 6 reference tokens: c = 2, r = 6 -> BP = exp(1 - 6/2) = e^-2.
    # Sentence level keeps the orders the candidate has (p1 = 2/2, p2 = 1/1): BLEU = e^-2.
    s = bleu("the cat", "the cat sat on the mat")
    assert s["brevity_penalty"] == pytest.approx(math.exp(-2))
    assert s["bleu"] == pytest.approx(math.exp(-2))
    # Corpus level needs all four orders: a corpus without any 3-gram scores 0.
    assert corpus_bleu(["the cat"], ["the cat sat on the mat"])["bleu"] == 0.0


def test_corpus_bleu_pools_statistics_not_scores():
    preds, refs = [PRED, "the cat"], [REF, "the cat sat on the mat"]
    # matches (5+2, 3+1, 1, 0), totals (6+2, 5+1, 4, 3); c = 8, r = 12; exp smoothing on p4.
    expected = math.exp(1 - 12 / 8) * (7 / 8 * 4 / 6 * 1 / 4 * 1 / 6) ** 0.25
    assert corpus_bleu(preds, refs)["bleu"] == pytest.approx(expected)


def test_multiple_references():
    # Clipping takes, per n-gram, the largest count in any one reference; the reference length
    # is the one closest to the candidate's (the shorter on a tie: 4 and 6 around 5 -> 4).
    stats = segment_stats("a a a b c".split(), ["a b".split() + ["x", "y"], "a a c d e f".split()])
    assert stats.matches[0] == 2 + 1 + 1  # a x2 (second ref), b, c
    assert stats.ref_len == 4
    assert bleu("the cat is on the mat", ["a dog", "the cat is on the mat"])["bleu"] == pytest.approx(1.0)


def test_tokenizer_13a():
    assert tokenize_13a("Hello, world (2.5-3)!") == ["Hello", ",", "world", "(", "2.5", "-", "3", ")", "!"]
    assert tokenize_13a("It's 1,000.5 km. End.") == ["It's", "1,000.5", "km", ".", "End", "."]
    assert tokenize_13a("well-known &amp;lt;tag&gt; a&quot;b") == ["well-known", "<", "tag", ">", "a", '"', "b"]
    assert tokenize_13a("line-\nbreak\nnext <skipped>") == ["linebreak", "next"]
    assert tokenize_13a("MiXeD", lowercase=True) == ["mixed"]
    # The text is padded with spaces, so a period after a final digit or before a first one splits.
    assert tokenize_13a("costs 5.") == ["costs", "5", "."]
    assert tokenize_13a(".5 left") == [".", "5", "left"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown BLEU smoothing 'laplace'"):
        bleu(PRED, REF, smoothing="laplace")
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        corpus_bleu([PRED, PRED], [REF])


WORDS = ("the a cat dog sat is on mat over 3.14 1,000 42 5. .5 5-10 well-known U.S. end. it's New York "
         "(see) [1] & &amp; &quot;quoted&quot; e-mail $5 100% a/b x:y ... ? !").split()


def _sentence(rng: random.Random, max_words: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, max_words))]
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.replace(" ", "", 1)  # glue a word to punctuation: "end.it's"
    if rng.random() < 0.1:
        text += rng.choice(["-\n", "\n", " "])
    return text


def _pair(rng: random.Random):
    ref = _sentence(rng)
    if rng.random() < 0.6:  # an edited copy, so that higher orders match too
        words = ref.split()
        pred = " ".join(w if rng.random() > 0.25 else rng.choice(WORDS) for w in words if rng.random() > 0.1)
    else:
        pred = _sentence(rng)
    return pred, ref


@pytest.mark.parametrize("smoothing", ["exp", "floor", "add-k", "none"])
def test_sentence_parity_with_sacrebleu(smoothing):
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = random.Random(11)
    cases = [_pair(rng) for _ in range(120)] + [("", "the cat"), ("the cat", ""), ("", ""), (PRED, REF)]
    for pred, ref in cases:
        theirs = sacrebleu.sentence_bleu(pred, [ref], smooth_method=smoothing, tokenize="13a")
        assert bleu(pred, ref, smoothing=smoothing)["bleu"] == pytest.approx(theirs.score / 100, abs=1e-6), (pred, ref)


def test_tokenizer_parity_with_sacrebleu():
    tokenizer_13a = pytest.importorskip("sacrebleu.tokenizers.tokenizer_13a")
    tok = tokenizer_13a.Tokenizer13a()
    rng = random.Random(5)
    for _ in range(300):
        text = _sentence(rng, 30)
        # sacreBLEU strips trailing whitespace before tokenising (BLEU._preprocess_segment).
        assert tokenize_13a(text) == tok(text.rstrip()).split(), text


@pytest.mark.parametrize("smoothing", ["exp", "floor", "add-k", "none"])
def test_corpus_parity_with_sacrebleu(smoothing):
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = random.Random(23)
    for trial in range(30):
        n, n_refs = rng.randint(1, 12), rng.choice([1, 1, 2, 3])
        preds, refs = [], []
        for _ in range(n):
            pred, ref = _pair(rng)
            preds.append(pred)
            refs.append([ref] + [_sentence(rng) for _ in range(n_refs - 1)])
        streams = [[r[k] for r in refs] for k in range(n_refs)]  # sacreBLEU: one stream per reference
        theirs = sacrebleu.corpus_bleu(preds, streams, smooth_method=smoothing, tokenize="13a", force=True)
        ours = corpus_bleu(preds, refs, smoothing=smoothing)
        assert ours["bleu"] == pytest.approx(theirs.score / 100, abs=1e-6), trial
        assert ours["brevity_penalty"] == pytest.approx(theirs.bp, abs=1e-9), trial
