"""Deterministic reuse of llama.cpp's evaluated prompt prefix: block-aligned KV reuse and a RAM
cache of saved states.

Why aligned blocks: llama.cpp evaluates a prompt in batches, and the float result for one
position depends on the batch it was computed in (a batch of one token takes the matrix-vector
kernels, a longer one the matrix-matrix kernels; with weights repacked for AVX2/AVX-512, rows in
the last `len % 4` of a batch take another kernel again). Reusing "the longest common prefix" of
the previous prompt therefore changes where the batches of the new prompt start, hence its
rounding, hence, with a small model, a greedy token: the same question gave another answer
after a different one. So every prompt is evaluated in blocks of `block` tokens that start at
absolute positions 0, block, 2*block, … and only whole blocks are ever reused:

    prompt A  |■■■■|■■■■|■■      evaluated as blocks [0,4) [4,8) [8,10)      (block = 4)
    prompt B  |■■■■|■■■□|□□□     shares 7 tokens with A: reuse [0,4), evaluate [4,8) [8,11)

Evaluated from scratch, B's blocks are exactly the same batches, so reuse or not, every position
is computed by the same kernels from the same inputs: bit-identical logits by construction,
whatever ran before. Tokens generated after a prompt (decoded one at a time) are never reused.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Number of leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def reusable_prefix(evaluated: Sequence[int], prompt: Sequence[int], block: int) -> int:
    """How many leading tokens of `prompt` may come from a KV cache holding `evaluated` (a
    prompt evaluated in aligned blocks): their common prefix, cut to whole blocks that were
    whole in `evaluated` too, and leaving at least one token of `prompt` to evaluate (the
    next-token logits come from the last evaluated position).

        reusable_prefix([1,2,3,4,5,6,7,8,9], [1,2,3,4,5,6,7,0,0], block=4) == 4
    """
    if block < 1:
        raise ValueError(f"block={block} must be >= 1")
    shared = common_prefix(evaluated, prompt[: max(0, len(prompt) - 1)])
    return shared // block * block


class StateCache:
    """Saved llama.cpp states keyed by the whole-block prompt prefix they hold, least recently
    used first out once `capacity_bytes` is exceeded. `best(prompt)` returns the state that
    lets the most of `prompt` be reused, and how many tokens that is."""

    def __init__(self, capacity_bytes: int, block: int) -> None:
        if capacity_bytes < 1:
            raise ValueError(f"capacity_bytes={capacity_bytes} must be >= 1")
        self.capacity_bytes, self.block = capacity_bytes, block
        self._states: OrderedDict[tuple[int, ...], tuple[Any, int]] = OrderedDict()  # key -> (state, bytes)

    @property
    def nbytes(self) -> int:
        return sum(size for _, size in self._states.values())

    def __len__(self) -> int:
        return len(self._states)

    def best(self, prompt: Sequence[int]) -> tuple[Any, int]:
        """(state, tokens of `prompt` it covers); (None, 0) when no saved prefix helps."""
        found, reuse = None, 0
        for key, (state, _) in self._states.items():
            n = reusable_prefix(key, prompt, self.block)
            if n > reuse:
                found, reuse = key, n
        if found is None:
            return None, 0
        self._states.move_to_end(found)
        return self._states[found][0], reuse

    def put(self, prompt: Sequence[int], state: Any, nbytes: int) -> None:
        """Keep `state`, saved after evaluating `prompt`, under the whole blocks of `prompt`."""
        key = tuple(prompt[: len(prompt) // self.block * self.block])
        if not key or nbytes > self.capacity_bytes:
            return
        self._states[key] = (state, nbytes)
        self._states.move_to_end(key)
        while self.nbytes > self.capacity_bytes:
            self._states.popitem(last=False)
