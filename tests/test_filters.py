"""Typed filters: parsing, errors, and agreement of the three compilations (reference
predicate, numpy mask, and a real embedded Chroma `where`)."""
import random

import numpy as np
import pytest

from knowledge.columns import MetadataColumns
from knowledge.errors import FilterError
from knowledge.filters import Filter, date_to_int, filters_from_dict, matches, parse_filter


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


class _Store:
    """Just what CorpusView reads from a docstore."""

    def __init__(self, rows, vectors):
        self.rows, self.vectors, self.version = rows, vectors, ("test", 1)

    def corpus_metadata(self):
        return [r["doc_id"] for r in self.rows], self.rows

    def corpus_vectors(self, dim, chunk_ids=None):
        return self.vectors.astype(np.float16)


@pytest.mark.parametrize("exprs", FILTER_CASES)
@pytest.mark.parametrize("exact_rows", [10_000, 0])  # exact scan / HNSW over-fetch path
def test_filtered_dense_equals_brute_force(exprs, exact_rows):
    from knowledge.corpus import CorpusView, filtered_dense

    rows = sorted(_random_metadata(400), key=lambda r: r["doc_id"])
    vectors = np.random.default_rng(1).standard_normal((len(rows), 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    view = CorpusView(_Store(rows, vectors), "catalog", 16)
    query = vectors[5]
    stored = vectors.astype(np.float16).astype(np.float32)

    def hnsw(vec, n):  # a perfect "approximate" index over everything, best first
        order = np.argsort(-(stored @ vec))[:n]
        return [(rows[i]["doc_id"], float(stored[i] @ vec)) for i in order]

    filters = [parse_filter(e, "catalog") for e in exprs]
    got = [cid for cid, _ in filtered_dense(view, hnsw, query, 10, view.mask(filters), exact_rows=exact_rows)]
    allowed = [i for i, r in enumerate(rows) if matches(filters, r, "catalog")]
    expected = [rows[i]["doc_id"] for i in sorted(allowed, key=lambda i: -(stored[i] @ query))[:10]]
    assert got == expected
