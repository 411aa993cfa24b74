"""The benchmark-scale generator: schema, spread, lengths, determinism and the CLI."""
from __future__ import annotations

import argparse
import collections
import json

import pytest

from knowledge.demo.catalog import ITEM_TYPES, validate_item
from knowledge.demo.cli import register
from knowledge.demo.scale import MAX_WORDS, MIN_WORDS, generate_items, write_items

N = 2000


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return list(generate_items(N, seed=11))


def test_n_items_with_unique_sequential_ids(items):
    assert len(items) == N
    assert [item["id"] for item in items] == [f"syn_{k:06d}" for k in range(1, N + 1)]


def test_items_follow_the_catalog_schema(items):
    problems = [f"{item['id']}: {p}" for item in items for p in validate_item(item)]
    assert problems == []
    assert all(item["source"] == "synthetic" and item["topics"] for item in items)


def test_spread_of_types_years_genres_and_languages(items):
    types = collections.Counter(item["type"] for item in items)
    assert set(types) == set(ITEM_TYPES) and min(types.values()) >= 150
    years = [item["year"] for item in items]
    assert min(years) <= 1960 and max(years) == 2026
    assert len({item["language"] for item in items}) >= 6
    assert len({genre for item in items for genre in item["genres"]}) >= 20


def test_descriptions_are_realistic_lengths_without_placeholders(items):
    words = [len(item["description"].split()) for item in items]
    assert min(words) >= MIN_WORDS and max(words) <= MAX_WORDS
    assert all("\x00" not in item["description"] and "{" not in item["description"] for item in items)
    assert len({item["description"] for item in items}) > 0.99 * N


def test_deterministic_and_seed_dependent(items):
    assert list(generate_items(N, seed=11)) == items
    assert list(generate_items(50, seed=12)) != items[:50]
    assert list(generate_items(50, seed=11)) == items[:50], "a smaller n is a prefix of a larger one"


def test_rejects_negative_n():
    with pytest.raises(ValueError, match="n must be >= 0"):
        list(generate_items(-1))


def test_writer_and_cli(tmp_path):
    seen: list[int] = []
    path = tmp_path / "direct.jsonl"
    assert write_items(path, 2500, seed=1, progress=seen.append) == 2500
    assert sum(seen) == 2500
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2500 and json.loads(lines[0])["id"] == "syn_000001"

    parser = argparse.ArgumentParser(prog="cairn")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", "scale", "2_500", "--out", str(tmp_path / "cli.jsonl"), "--seed", "1",
                              "--quiet"])
    assert args.func(args) == 0
    assert (tmp_path / "cli.jsonl").read_bytes() == path.read_bytes()
    with pytest.raises(SystemExit):
        parser.parse_args(["demo", "scale", "0", "--out", str(tmp_path / "x.jsonl")])
