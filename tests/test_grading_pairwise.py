"""Blind pairwise grading (evals/grading/pairwise.py and the store's next_pair/record_pairwise):
the order is random per pair, recorded (seed + flag), rebuilt from the seed, and the grader's
A/B pick maps back to the right system whichever order was shown."""
from __future__ import annotations

from pathlib import Path

import pytest

from evals.grading.pairwise import Candidate, coin, make_blind_pair, resolve, unswap
from evals.grading.records import GradingError, Item
from evals.grading.store import GradeStore

BASE = Candidate("base", "Hitchcock directed it.")
TUNED = Candidate("base+dpo-1", "Alfred Hitchcock directed Rear Window (1954) [1].")


def pair(seed: int):
    return make_blind_pair("Who directed Rear Window?", BASE, TUNED, collection="catalog", seed=seed)


def test_both_orders_occur_over_seeds_and_each_is_recorded() -> None:
    pairs = [pair(seed) for seed in range(200)]
    swapped = sum(p.swapped for p in pairs)
    assert 70 < swapped < 130  # a fair coin: 100 ± ~3.5 sd
    for p in pairs:
        assert p.swapped == coin(p.seed)
        assert (p.a, p.b) == ((TUNED, BASE) if p.swapped else (BASE, TUNED))
        assert unswap(p) == (BASE, TUNED)


def test_the_same_seed_rebuilds_the_same_order() -> None:
    assert [pair(s).swapped for s in range(50)] == [pair(s).swapped for s in range(50)]


def test_a_fresh_seed_is_drawn_and_recorded_when_none_is_given() -> None:
    pairs = [make_blind_pair("q?", BASE, TUNED, collection="catalog") for _ in range(20)]
    assert len({p.seed for p in pairs}) > 1
    assert all(p.swapped == coin(p.seed) for p in pairs)


def test_pick_maps_back_to_the_system_in_either_order() -> None:
    unswapped = next(pair(s) for s in range(100) if not pair(s).swapped)
    swapped = next(pair(s) for s in range(100) if pair(s).swapped)
    assert resolve(unswapped, "b").winner == "base+dpo-1" and resolve(unswapped, "b").loser == "base"
    assert resolve(swapped, "a").winner == "base+dpo-1" and resolve(swapped, "a").loser == "base"
    assert resolve(swapped, "B").winner == "base"
    assert resolve(swapped, "tie").winner is None


def test_shown_hides_the_systems() -> None:
    shown = pair(3).shown()
    assert set(shown) == {"question", "collection", "answer_a", "answer_b", "sources_a", "sources_b"}
    assert "base" not in str(shown.values()).replace(BASE.answer, "")


def test_bad_pairs_and_picks_are_refused() -> None:
    with pytest.raises(GradingError, match="compare two different systems"):
        make_blind_pair("q?", BASE, Candidate("base", "other"), collection="catalog", seed=1)
    with pytest.raises(GradingError, match="pick 'c' is not one of a, b, tie"):
        resolve(pair(1), "c")
    with pytest.raises(GradingError, match="seed=-1"):
        make_blind_pair("q?", BASE, TUNED, collection="catalog", seed=-1)


def test_store_serves_pairs_and_records_the_order(tmp_path: Path) -> None:
    store = GradeStore(tmp_path / "grades.sqlite")
    q = "Who directed Rear Window?"
    a = store.add_item(Item(question=q, answer=BASE.answer, collection="catalog", system="base", origin="eval:r1"))
    b = store.add_item(Item(question=q, answer=TUNED.answer, collection="catalog", system="base+dpo-1",
                            origin="eval:r2"))
    store.add_item(Item(question="lonely?", answer="x", collection="catalog", system="base"))  # no partner
    c = store.add_item(Item(question=q, answer=BASE.answer, collection="catalog", system="base+dpo-2",
                            origin="eval:r3"))  # same text as `a`: only (b, c) is worth comparing
    served = store.next_pair("alice", role="expert", seed=11)
    assert served is not None and {served.a.item_id, served.b.item_id} == {a, b}
    assert served.seed == 11 and served.swapped == coin(11)
    tuned_label = "a" if served.a.system == "base+dpo-1" else "b"
    verdict = store.record_pairwise(served, tuned_label, grader="alice", role="expert", comment="cites")
    assert verdict.winner_system == "base+dpo-1" and verdict.loser_system == "base"
    (stored,) = store.pairwise(role="expert")
    assert stored.id == verdict.id and stored.seed == 11 and stored.swapped == served.swapped
    assert stored.shown == served.shown() and stored.winner == tuned_label and stored.comment == "cites"
    assert stored.winner_system == "base+dpo-1"
    # alice is done with (a, b) in either order; (a, c) hold the same text; (b, c) is left
    second = store.next_pair("alice", role="expert")
    assert {second.a.item_id, second.b.item_id} == {b, c}
    store.record_pairwise(second, "tie", grader="alice", role="expert")
    assert store.next_pair("alice", role="expert") is None
    assert {store.next_pair("bob", role="expert").a.item_id} <= {a, b}
    assert [v.winner_system for v in store.pairwise(role="expert")] == ["base+dpo-1", None]
