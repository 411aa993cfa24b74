"""ROUGE: hand-worked numbers and parity with Google's rouge-score on generated pairs."""
import random

import pytest

from evals.metrics.rouge import ROUGE_TYPES, lcs_positions, lcs_table, rouge, rouge_lsum, tokenize


def test_hand_worked_prefix():
    s = rouge("the cat sat", "the cat sat on the mat")
    # ROUGE-1: the, cat, sat all in the reference -> P = 3/3, R = 3/6.
    assert (s["rouge1_precision"], s["rouge1_recall"]) == (1.0, 0.5)
    assert s["rouge1"] == pytest.approx(2 / 3)
    # ROUGE-2: (the cat), (cat sat) both in the 5 reference bigrams -> P = 2/2, R = 2/5, F = 4/7.
    assert (s["rouge2_precision"], s["rouge2_recall"]) == (1.0, 0.4)
    assert s["rouge2"] == pytest.approx(4 / 7)
    # ROUGE-L: LCS = "the cat sat" (3) -> same as ROUGE-1; one line, so Lsum too.
    assert s["rougeL"] == s["rougeLsum"] == pytest.approx(2 / 3)


def test_hand_worked_lcs_with_a_gap():
    # LCS table, rows = reference "the cat sat on the mat", columns = "the cat was on the mat":
    #            the cat was on the mat
    #   the       1   1   1   1   1   1
    #   cat       1   2   2   2   2   2
    #   sat       1   2   2   2   2   2
    #   on        1   2   2   3   3   3
    #   the       1   2   2   3   4   4
    #   mat       1   2   2   3   4   5   -> LCS = "the cat on the mat" = 5
    ref, pred = "the cat sat on the mat".split(), "the cat was on the mat".split()
    assert lcs_table(ref, pred)[-1][-1] == 5
    assert lcs_positions(ref, pred) == [0, 1, 3, 4, 5]
    s = rouge("the cat was on the mat", "the cat sat on the mat")
    assert s["rougeL_precision"] == s["rougeL_recall"] == pytest.approx(5 / 6)
    assert s["rouge2"] == pytest.approx(3 / 5)  # (the cat), (on the), (the mat) of 5 bigrams


def test_summary_level_lcs_example_from_the_paper():
    # Lin (2004) §3.2: r = w1 w2 w3 w4 w5, c1 = w1 w2 w6 w7 w8, c2 = w1 w3 w8 w9 w5.
    # LCS(r, c1) = w1 w2, LCS(r, c2) = w1 w3 w5, union = w1 w2 w3 w5 -> 4 hits;
    # R = 4 / 5 reference tokens, P = 4 / 10 candidate tokens.
    s = rouge("w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5", "w1 w2 w3 w4 w5")
    assert s["rougeLsum_recall"] == pytest.approx(4 / 5)
    assert s["rougeLsum_precision"] == pytest.approx(4 / 10)
    # Sentence-level ROUGE-L sees one long sequence: LCS(w1 w2 w3 w4 w5, all 10 tokens) = w1 w2 w3 w5.
    assert s["rougeL_recall"] == pytest.approx(4 / 5)


def test_summary_level_hits_are_clipped_by_token_counts():
    # Each reference line "a" matches the candidate's single "a", but there is only one to give:
    # hits = 1, not 2 (the paper's plain sum would give P = 2 / 1).
    score = rouge_lsum([["a"]], [["a"], ["a"]])
    assert (score.precision, score.recall) == (1.0, 0.5)


def test_repeated_tokens_are_clipped():
    s = rouge("the the the the", "the cat")
    assert (s["rouge1_precision"], s["rouge1_recall"]) == (0.25, 0.5)


def test_tokenizer_and_stemmer():
    assert tokenize("The CATS' mat-2, é!") == ["the", "cats", "mat", "2"]
    assert tokenize("running cats was", use_stemmer=True) == ["run", "cat", "was"]  # "was" too short
    assert rouge("Running cats!", "the cat runs")["rouge1"] == 0.0
    assert rouge("Running cats!", "the cat runs", use_stemmer=True)["rouge1_precision"] == 1.0


def test_empty_inputs_score_zero():
    for pred, ref in [("", "a b"), ("a b", ""), ("", ""), ("!!!", "...\n\n")]:
        assert all(v == 0.0 for v in rouge(pred, ref).values()), (pred, ref)


VOCAB = ("the a cat cats dog dogs running runs ran run happily happy happiness mat sat sits sitting "
         "on over quickly quick brown fox jumps jumped jumping lazy generously generous 2 42 x "
         "was has its it bus The Cat DOG RUNNING").split()
PUNCT = [",", ".", "!", "-", "'s", " (", ")", ":", ""]


def _text(rng: random.Random, max_words: int) -> str:
    n = rng.randint(0, max_words)
    out = []
    for _ in range(n):
        out.append(rng.choice(VOCAB) + (rng.choice(PUNCT) if rng.random() < 0.2 else ""))
        if rng.random() < 0.12:
            out.append("\n")  # sentence break for rougeLsum (sometimes an empty line)
    return " ".join(out)


def _pairs(seed: int, count: int):
    rng = random.Random(seed)
    for i in range(count):
        ref = _text(rng, 25)
        if i % 4 == 0:  # heavy overlap: a shuffled/edited copy of the reference
            words = ref.split(" ")
            if i % 8 == 0:
                rng.shuffle(words)
            else:
                words.insert(rng.randint(0, len(words)), rng.choice(VOCAB))
            pred = " ".join(w for w in words if rng.random() > 0.2)
        else:
            pred = _text(rng, 25)
        yield pred, ref
    yield "", ""
    yield "", "the cat"
    yield "the the the the", "the the"
    yield "a\nb\na b a\n\nb", "b a\na b\n"


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_parity_with_rouge_score(use_stemmer):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    pairs = list(_pairs(seed=7 + use_stemmer, count=220))
    assert sum("\n" in p and "\n" in r for p, r in pairs) > 20  # Lsum really sees several lines
    worst = 0.0
    for pred, ref in pairs:
        ours = rouge(pred, ref, use_stemmer=use_stemmer)
        theirs = scorer.score(ref, pred)  # rouge-score takes (target, prediction)
        for name in ROUGE_TYPES:
            t = theirs[name]
            for suffix, value in (("", t.fmeasure), ("_precision", t.precision), ("_recall", t.recall)):
                worst = max(worst, abs(ours[name + suffix] - value))
                assert ours[name + suffix] == pytest.approx(value, abs=1e-6), (name + suffix, pred, ref)
    assert worst <= 1e-6
