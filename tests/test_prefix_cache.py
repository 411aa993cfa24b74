"""Block-aligned prefix reuse: hand-worked reuse lengths and the state cache's choice and eviction."""
from __future__ import annotations

import pytest

from assistant.llm.prefix_cache import StateCache, common_prefix, reusable_prefix


@pytest.mark.parametrize(("evaluated", "prompt", "block", "expected"), [
    # shares 7 tokens: only the first whole block of 4 is reused
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 0, 0], 4, 4),
    # shares all 9 of `evaluated`: block [8, 12) was partial there, so 8
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 4, 8),
    # the same prompt again: the last token must be evaluated for fresh logits -> 8 of 9, cut to 8
    ([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9], 4, 8),
    # the same 8-token prompt: reusing all 8 would leave nothing to evaluate -> the block before
    ([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8], 4, 4),
    ([1, 2, 3], [1, 2, 3, 4, 5], 4, 0),  # less than a block shared
    ([], [1, 2, 3, 4, 5], 4, 0),
    ([9, 2, 3, 4, 5], [1, 2, 3, 4, 5], 1, 0),  # differs at the first token
    ([1, 2, 3, 4, 5], [1, 2, 3, 4, 6], 1, 4),  # block 1 is plain longest-prefix reuse
])
def test_reusable_prefix_hand_worked(evaluated, prompt, block, expected):
    assert reusable_prefix(evaluated, prompt, block) == expected


def test_reuse_is_always_whole_blocks_and_leaves_a_token_to_evaluate():
    for shared in range(0, 40):
        evaluated = list(range(40))
        prompt = list(range(shared)) + [-1] * 5
        n = reusable_prefix(evaluated, prompt, 16)
        assert n % 16 == 0 and n <= shared and n < len(prompt)


def test_common_prefix_and_bad_block():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2 and common_prefix([], [1]) == 0
    with pytest.raises(ValueError, match="block=0"):
        reusable_prefix([1], [1, 2], 0)


def test_state_cache_picks_the_state_covering_most_of_the_prompt():
    cache = StateCache(capacity_bytes=100, block=4)
    head = [7] * 8
    cache.put(head + [1, 1, 1, 1, 5], "A", 10)   # key: 12 tokens (3 blocks)
    cache.put(head + [2, 2, 2, 2, 2, 2], "B", 10)  # key: 12 tokens
    cache.put([3] * 9, "C", 10)                    # key: 8 tokens of 3s
    assert cache.best(head + [2, 2, 2, 2, 9]) == ("B", 12)
    assert cache.best(head + [1, 1, 9]) == ("A", 8)  # A and B both give 8; either is right
    assert cache.best([4, 4, 4, 4, 4]) == (None, 0)
    assert len(cache) == 3 and cache.nbytes == 30


def test_state_cache_evicts_least_recently_used_and_skips_what_cannot_fit():
    cache = StateCache(capacity_bytes=25, block=2)
    cache.put([1, 1, 1], "one", 10)
    cache.put([2, 2, 2], "two", 10)
    assert cache.best([1, 1, 5]) == ("one", 2)  # touching "one" makes "two" the oldest
    cache.put([3, 3, 3], "three", 10)
    assert cache.best([2, 2, 5]) == (None, 0) and cache.best([1, 1, 5])[0] == "one"
    cache.put([4, 4, 4], "huge", 26)  # larger than the whole cache: not kept
    cache.put([5], "short", 1)  # no whole block to key it by: not kept
    assert len(cache) == 2 and cache.nbytes == 20
    with pytest.raises(ValueError, match="capacity_bytes=0"):
        StateCache(0, 4)
