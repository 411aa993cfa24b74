"""Typed filters: parsing, errors, and agreement of the three compilations (reference
predicate, numpy mask, and a real embedded Chroma `where`)."""
import random

import numpy as np
import pytest

from knowledge.columns import MetadataColumns
from knowledge.errors import FilterError
from knowledge.filters import Filter, date_to_int, filters_from_dict, matches, parse_filter, to_chroma_where


def test_parse_each_operator():
    assert parse_filter("year>=2020", "catalog") == Filter("year", "gte", (2020,))
    assert parse_filter("year < 1999", "catalog") == Filter("year", "lt", (1999,))
    assert parse_filter("type=Documentary", "catalog") == Filter("type", "eq", ("documentary",))
    assert parse_filter("type!=film", "catalog") == Filter("type", "ne", ("film",))
    assert parse_filter("genres=comedy,drama", "catalog") == Filter("genres", "eq", ("comedy", "drama"))
    assert parse_filter("date>=2024-03-01", "notes") == Filter("date", "gte", (20240301,))
    assert parse_filter("rating>7.5", "catalog") == Filter("rating", "gt", (7.5,))


@pytest.mark.parametrize("expr, message", [
    ("year 2020", "cannot parse filter"),
    ("colour=red", "filterable fields"),
    ("year>=twenty", "not a valid int"),
    ("type>film", "only = and != apply"),
    ("date>=yesterday", "ISO date"),
    ("year>=2020,2021", "one value"),
])
def test_parse_errors_name_the_problem(expr, message):
    collection = "notes" if expr.startswith("date") else "catalog"
    with pytest.raises(FilterError, match=message):
        parse_filter(expr, collection)


def test_dict_form_as_golden_sets_write_it():
    got = filters_from_dict({"type": "documentary", "year": {"gte": 2025, "lte": 2026}, "genres": ["comedy"]}, "catalog")
    assert got == [Filter("type", "eq", ("documentary",)), Filter("year", "gte", (2025,)),
                   Filter("year", "lte", (2026,)), Filter("genres", "eq", ("comedy",))]
    with pytest.raises(FilterError, match="unknown operator"):
        filters_from_dict({"year": {"between": 3}}, "catalog")


def test_chroma_where_shapes():
    assert to_chroma_where([], "catalog") is None
    assert to_chroma_where([Filter("year", "gte", (2020,))], "catalog") == {"year": {"$gte": 2020}}
    assert to_chroma_where([Filter("genres", "eq", ("comedy",)), Filter("type", "eq", ("film", "series"))],
                           "catalog") == {"$and": [{"genres": {"$contains": "comedy"}},
                                                   {"type": {"$in": ["film", "series"]}}]}


def test_date_to_int():
    assert date_to_int("2024-01-05") == 20240105
    assert date_to_int("2024-01-05T10:00:00") == 20240105


TYPES = ["film", "series", "documentary", "podcast", "article"]
GENRES = ["comedy", "drama", "science", "history", "crime"]


def _random_metadata(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        meta = {"doc_id": f"d{i}", "type": rng.choice(TYPES), "year": rng.randint(1990, 2026),
                "genres": rng.sample(GENRES, rng.randint(1, 3))}
        if rng.random() < 0.7:
            meta["language"] = rng.choice(["en", "fr", "es"])
        rows.append(meta)
    return rows


FILTER_CASES = [
    ["type=documentary"], ["type!=film"], ["year>=2020"], ["year<2000", "type=film,series"],
    ["genres=comedy"], ["genres!=drama"], ["genres=science,history", "year<=2010"], ["language=fr"],
    ["language!=fr"], ["type=podcast", "genres=crime", "year>2015"],
]


@pytest.mark.parametrize("exprs", FILTER_CASES)
def test_mask_agrees_with_reference(exprs):
    rows = _random_metadata(400)
    filters = [parse_filter(e, "catalog") for e in exprs]
    mask = MetadataColumns(rows, "catalog").mask(filters)
    expected = np.array([matches(filters, r, "catalog") for r in rows], dtype=np.float32)
    assert mask is not None and mask.sum() > 0
    np.testing.assert_array_equal(mask, expected)


def test_chroma_where_agrees_with_reference(tmp_path):
    import chromadb
    from chromadb.config import Settings

    from knowledge.vectorstore import chroma_metadata

    rows = _random_metadata(300)
    client = chromadb.PersistentClient(path=str(tmp_path / "c"), settings=Settings(anonymized_telemetry=False))
    col = client.create_collection("filters", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    vectors = np.random.default_rng(0).standard_normal((len(rows), 8)).astype(np.float32)
    col.add(ids=[r["doc_id"] for r in rows], embeddings=vectors, metadatas=[chroma_metadata(r, "catalog") for r in rows])
    for exprs in FILTER_CASES:
        filters = [parse_filter(e, "catalog") for e in exprs]
        got = set(col.get(where=to_chroma_where(filters, "catalog"), include=[])["ids"])
        expected = {r["doc_id"] for r in rows if matches(filters, r, "catalog")}
        assert got == expected, exprs
