"""Refusal accuracy: the is_refusal heuristic and hand-worked accuracy / precision / recall."""
import math

import pytest

from evals.metrics.refusal import is_refusal, refusal_accuracy


@pytest.mark.parametrize("text", [
    "I don't know.",
    "I can’t find anything about knitting in the catalog.",  # typographic apostrophe
    "The catalog does not contain any information about quantum computing.",
    "Sorry, there is no information on that in the notes.",
    "There are no podcasts from the 1980s in the catalog.",
    "I am unable to answer this from the available documents.",
    "That is not covered by the knowledge base.",
    "Not enough information to answer.",
])
def test_refusal_phrases_without_citations(text):
    assert is_refusal(text, [])
    assert is_refusal(text, None)


def test_citations_or_a_real_answer_are_not_refusals():
    assert not is_refusal("I don't know of other films, but Vertigo (1958) fits [1].", ["doc_0007"])
    assert not is_refusal("Vertigo (1958) is Hitchcock's film about a retired detective.", [])
    assert not is_refusal("The patient knows her medications and reports no chest pain.", [])


def test_refusal_accuracy_by_hand():
    cases = [
        {"answerable": True, "refused": False},   # answered an answerable question: correct
        {"answerable": True, "refused": True},    # wrongly refused
        {"answerable": False, "refused": True},   # correctly refused
        {"answerable": False, "refused": False},  # answered the unanswerable: wrong
        {"answerable": False, "refused": True},   # correctly refused
    ]
    s = refusal_accuracy(cases)
    assert s["accuracy"] == pytest.approx(3 / 5)
    assert s["refusal_precision"] == pytest.approx(2 / 3)  # 2 of the 3 refusals were right
    assert s["refusal_recall"] == pytest.approx(2 / 3)  # 2 of the 3 unanswerable were refused
    assert s["refusal_f1"] == pytest.approx(2 / 3)
    assert s["n"] == 5


def test_undefined_ratios_are_nan():
    s = refusal_accuracy([{"answerable": True, "refused": False}] * 3)
    assert s["accuracy"] == 1.0
    assert math.isnan(s["refusal_precision"]) and math.isnan(s["refusal_recall"]) and math.isnan(s["refusal_f1"])
    s = refusal_accuracy([{"answerable": False, "refused": False}])
    assert s["refusal_recall"] == 0.0 and math.isnan(s["refusal_precision"])


def test_bad_cases():
    with pytest.raises(ValueError, match=r"case 1 needs a boolean 'refused', got None"):
        refusal_accuracy([{"answerable": True, "refused": False}, {"answerable": False}])
    with pytest.raises(ValueError, match="answerable"):
        refusal_accuracy([{"answerable": "no", "refused": True}])
    with pytest.raises(ValueError, match="at least one case"):
        refusal_accuracy([])
