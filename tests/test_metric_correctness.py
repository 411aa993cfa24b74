"""Answer correctness: SQuAD token F1 and ROUGE-L against the reference, and refusal correctness."""
import pytest

from evals.metrics.correctness import correctness, normalize_answer, token_f1
from evals.sample import AnswerSample

REF = "Rear Window (1954) was directed by Alfred Hitchcock."


def sample(answer, refused=False, answerable=True, reference=REF, cited_ids=()):
    return AnswerSample(case_id="c1", question="Who directed Rear Window?", collection="catalog", answer=answer,
                        refused=refused, reference=reference, answerable=answerable, cited_ids=tuple(cited_ids))


def test_squad_normalisation_and_f1_by_hand():
    assert normalize_answer("The Film's  year: 1954.") == "films year 1954"
    # pred {alfred, hitchcock, directed, it} (4), ref {rear, window, 1954, was, directed, by, alfred, hitchcock} (8):
    # common 3 -> P = 3/4, R = 3/8, F1 = 2 * (3/4)(3/8) / (3/4 + 3/8) = 1/2
    assert token_f1("Alfred Hitchcock directed it.", REF) == pytest.approx(0.5)
    assert token_f1("the", "a") == 1.0  # both normalise to nothing
    assert token_f1("Hitchcock", "") == 0.0


def test_answered_case():
    out = correctness(sample("Alfred Hitchcock directed it [1].", cited_ids=("film_0046",)))
    assert out["refusal_correct"] == 1.0
    assert out["token_f1"] == pytest.approx(0.5)  # the marker "[1]" is not a token of the answer
    # ROUGE-L: LCS("alfred hitchcock directed it", "rear window 1954 was directed by alfred hitchcock") = 2
    # ("alfred hitchcock"); P = 2/4, R = 2/8 -> F = 1/3
    assert out["rougeL_f"] == pytest.approx(1 / 3)


def test_refusals():
    refusal = "I couldn't find that in the sources."
    # a wrong refusal of an answerable question: scored low, and refusal_correct = 0
    out = correctness(sample(refusal, refused=True))
    assert out["refusal_correct"] == 0.0 and out["token_f1"] == 0.0
    # the right refusal of an unanswerable one: only refusal_correct applies
    assert correctness(sample(refusal, refused=True, answerable=False)) == {"refusal_correct": 1.0}
    # the text reads as a refusal even when the flag was not set
    assert correctness(sample("The catalog does not contain any information about that.", answerable=False)) == {
        "refusal_correct": 1.0}
    # answering an unanswerable question is wrong
    assert correctness(sample("It earned $20 million [1].", answerable=False, cited_ids=("d1",))) == {
        "refusal_correct": 0.0}


def test_no_reference():
    assert correctness(sample("Hitchcock [1].", reference=None, cited_ids=("d1",))) == {"refusal_correct": 1.0}
