"""Typed metadata filters: parsed from `--filter year>=2020`-style strings or from a dict
(`{"type": "documentary", "year": {"gte": 2025}}`, the form the query parser and golden sets
use), validated against each collection's schema. `matches` is the reference semantics;
columns.py compiles the same filters to a numpy mask that both retrievers use.

Semantics: filters are ANDed. On a list field (genres, cast, creators) `=` means "contains",
`!=` "does not contain". `a,b` after `=` means any of them. Dates compare as YYYYMMDD ints.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from .errors import FilterError

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
FieldKind = Literal["str", "int", "float", "date", "list"]

# Field schema per collection. Anything not listed here cannot be filtered on (a typo in a
# field name must be an error, not an empty result).
SCHEMAS: dict[str, dict[str, FieldKind]] = {
    "catalog": {"type": "str", "genres": "list", "year": "int", "language": "str", "released": "date",
                "rating": "float", "duration_min": "int", "creators": "list", "cast": "list", "doc_id": "str"},
    "notes": {"patient_id": "str", "date": "date", "author": "str", "note_type": "str",
              "section": "str", "doc_id": "str"},
}
_SYMBOLS: dict[str, Op] = {">=": "gte", "<=": "lte", "!=": "ne", ">": "gt", "<": "lt", "=": "eq", "==": "eq"}
_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|==|=|>|<)\s*(.+?)\s*$")
_ORDERED_KINDS = ("int", "float", "date")


@dataclass(frozen=True)
class Filter:
    field: str
    op: Op
    values: tuple[Any, ...]  # one value, or several for "any of" with eq/ne

    def describe(self) -> str:
        symbol = {v: k for k, v in _SYMBOLS.items() if k != "=="}[self.op]
        return f"{self.field}{symbol}{','.join(map(str, self.values))}"


def date_to_int(value: str | dt.date) -> int:
    """ISO date (or a bare year-month) -> YYYYMMDD int; the storage form of date fields."""
    if isinstance(value, dt.date):
        return value.year * 10000 + value.month * 100 + value.day
    text = str(value).strip()
    try:
        parsed = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise FilterError(f"{value!r} is not an ISO date; write it as YYYY-MM-DD") from None
    return date_to_int(parsed)


def _coerce(field: str, kind: FieldKind, raw: Any) -> Any:
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "date":
            return date_to_int(raw)
    except (TypeError, ValueError):
        raise FilterError(f"filter on {field!r}: {raw!r} is not a valid {kind}") from None
    return str(raw).strip().lower()


def _make(collection: str, field: str, op: Op, raw_values: Sequence[Any]) -> Filter:
    schema = SCHEMAS.get(collection)
    if schema is None:
        raise FilterError(f"unknown collection {collection!r}; use one of {sorted(SCHEMAS)}")
    if field not in schema:
        raise FilterError(f"cannot filter {collection} on {field!r}; filterable fields: {', '.join(sorted(schema))}")
    kind = schema[field]
    if op not in ("eq", "ne") and kind not in _ORDERED_KINDS:
        raise FilterError(f"{field!r} is a {kind} field: only = and != apply, not {op}")
    if len(raw_values) != 1 and op not in ("eq", "ne"):
        raise FilterError(f"{field}: a comparison takes one value, got {list(raw_values)}")
    return Filter(field, op, tuple(_coerce(field, kind, v) for v in raw_values))


def parse_filter(expr: str, collection: str) -> Filter:
    """`year>=2020`, `type=documentary`, `genres=comedy,drama`, `date<2024-06-01`."""
    match = _EXPR.match(expr)
    if not match:
        raise FilterError(f"cannot parse filter {expr!r}; write FIELD OP VALUE with OP one of = != > >= < <=, "
                          f"e.g. year>=2020 or type=documentary")
    field, symbol, raw = match.groups()
    return _make(collection, field, _SYMBOLS[symbol], [v for v in raw.split(",") if v.strip()])


def filters_from_dict(spec: Mapping[str, Any], collection: str) -> list[Filter]:
    """{"type": "documentary", "year": {"gte": 2025, "lte": 2026}, "genres": ["comedy"]}."""
    out: list[Filter] = []
    for field, value in spec.items():
        if isinstance(value, Mapping):
            for op, operand in value.items():
                if op not in _SYMBOLS.values():
                    raise FilterError(f"{field}: unknown operator {op!r}; use one of eq, ne, gt, gte, lt, lte")
                out.append(_make(collection, field, op, operand if isinstance(operand, list) else [operand]))
        else:
            out.append(_make(collection, field, "eq", value if isinstance(value, list) else [value]))
    return out


def parse_filters(exprs: Iterable[str], collection: str) -> list[Filter]:
    return [parse_filter(e, collection) for e in exprs]


# --- reference semantics ------------------------------------------------------------------

_COMPARE = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}


def matches(filters: Sequence[Filter], metadata: Mapping[str, Any], collection: str) -> bool:
    """The reference semantics; the column mask (columns.py) must agree with it row for row."""
    schema = SCHEMAS[collection]
    for f in filters:
        value = metadata.get(f.field)
        if schema[f.field] == "list":
            have = {str(v).lower() for v in (value or [])}
            hit = any(v in have for v in f.values)
            ok = hit if f.op == "eq" else not hit
        elif value is None:
            ok = f.op == "ne"
        elif f.op in ("eq", "ne"):
            norm = _normalise_scalar(value, schema[f.field])
            ok = (norm in f.values) == (f.op == "eq")
        else:
            ok = bool(_COMPARE[f.op](_normalise_scalar(value, schema[f.field]), f.values[0]))
        if not ok:
            return False
    return True


def _normalise_scalar(value: Any, kind: FieldKind) -> Any:
    if kind == "date":
        return value if isinstance(value, int) else date_to_int(value)
    if kind == "str":
        return str(value).lower()
    return value
