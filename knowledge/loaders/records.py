"""Raw record (a dict from JSONL, a JSON array, a CSV row, or a note file) → Document.

The one place where required fields are checked and values are coerced (DESIGN.md §2), so
that every format accepts exactly the same records and reports the same problems:

    catalog: id, title, type, description, genres, year   (+ released, creators, cast,
             language, duration_min, rating, url; anything else is kept as metadata)
    notes:   id, text                                       (+ patient_id, date, author, note_type)

Catalog text is a compact header line and the description, so that title, type, year and
genres are searchable too: "Arrival (film, 2016; drama, sci-fi)\\nA linguist ...".
Note text is kept verbatim: extraction spans index into it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Mapping

from ..errors import BadInputError
from ..types import Collection, Document, IngestIssue
from .base import LoadLimits

REQUIRED: dict[str, tuple[str, ...]] = {
    "catalog": ("id", "title", "type", "description", "genres", "year"),
    "notes": ("id", "text"),
}
_WHAT = {"catalog": "catalog items", "notes": "notes"}
LIST_SEPARATOR = "|"  # CSV cells hold lists as "drama|sci-fi"


def to_document(record: Any, collection: Collection, *, source: str, line: int | None,
                limits: LoadLimits) -> Document | IngestIssue:
    """Validate one record; a Document, or an IngestIssue naming the field and the fix."""
    try:
        if not isinstance(record, Mapping):
            raise BadInputError(f"expected a record object like {{\"id\": ...}}, got {type(record).__name__} "
                                f"{_preview(record)}")
        # Absent, null and "" (an empty CSV cell) all mean "not given".
        fields = {str(k).strip(): v for k, v in record.items() if v is not None and v != ""}
        _check_required(fields, record, collection)
        doc_id = _id(fields["id"])
        if collection == "catalog":
            text, metadata = _catalog(fields)
        else:
            text, metadata = _note(fields)
        if len(text) > limits.max_doc_chars:
            raise BadInputError(f"record {doc_id!r} is {len(text):,} characters, over max_doc_chars="
                                f"{limits.max_doc_chars:,}; split it into several records or raise "
                                f"LoadLimits.max_doc_chars")
        return Document(id=doc_id, text=text, metadata=metadata, source=source, line=line)
    except BadInputError as exc:
        return IngestIssue(source=source, line=line, reason=str(exc))


def _check_required(fields: Mapping[str, Any], record: Mapping[str, Any], collection: Collection) -> None:
    needs = f"({_WHAT[collection]} need {', '.join(REQUIRED[collection])})"
    for name in REQUIRED[collection]:
        if name in fields:
            continue
        if name in record:  # present but null/""
            raise BadInputError(f"required field {name!r} is empty {needs}")
        # A near miss ("Title" for "title") is the usual cause: say so.
        near = [str(k) for k in record if str(k).strip().lower() == name]
        hint = f"; found {near[0]!r} — field names are lowercase" if near else ""
        raise BadInputError(f"missing required field {name!r} {needs}{hint}")


# --- the two record kinds ---------------------------------------------------------------

def _catalog(fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    title = _text_field(fields, "title")
    kind = _text_field(fields, "type").lower()
    description = _text_field(fields, "description")
    genres = list(dict.fromkeys(g.lower() for g in _as_list(fields["genres"], "genres")))  # dedupe, keep order
    if not genres:
        raise BadInputError("required field 'genres' has no genres; give at least one, e.g. [\"drama\"] "
                            "or \"drama|sci-fi\" in CSV")
    year = _year(fields["year"])
    metadata = _extras(fields, skip={"id", "description"})
    metadata.update(title=title, type=kind, genres=genres, year=year)
    metadata.update(_optional(fields, _CATALOG_OPTIONAL))
    text = f"{title} ({kind}, {year}; {', '.join(genres)})\n{description}"
    return text, metadata


def _note(fields: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    text = fields["text"]
    if not isinstance(text, str):
        raise BadInputError(f"field 'text' must be a string, got {type(text).__name__} {_preview(text)}")
    if not text.strip():
        raise BadInputError("required field 'text' is blank (notes need id, text)")
    metadata = _extras(fields, skip={"id", "text"})
    metadata.update(_optional(fields, _NOTE_OPTIONAL))
    return text, metadata  # verbatim: spans must index into it exactly


def _extras(fields: Mapping[str, Any], skip: set[str]) -> dict[str, Any]:
    """Unknown fields are kept as they are: they are metadata, and filterable (DESIGN.md §2)."""
    return {k: v for k, v in fields.items() if k not in skip}


def _optional(fields: Mapping[str, Any], coercers: Mapping[str, Callable[[Any, str], Any]]) -> dict[str, Any]:
    return {name: coerce(fields[name], name) for name, coerce in coercers.items() if name in fields}


# --- value coercion: each names the field, the bad value and the expected form ----------

def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _id(value: Any, name: str = "id") -> str:
    # Numbers are common ids in exported tables; bool is an int subclass but never an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise BadInputError(f"field {name!r} must be a string or an integer, got {type(value).__name__} "
                            f"{_preview(value)}")
    if not value.strip():
        raise BadInputError(f"field {name!r} is blank (whitespace only); give it a value")
    return value.strip()


def _text_field(fields: Mapping[str, Any], name: str) -> str:
    value = fields[name]
    if not isinstance(value, str):
        raise BadInputError(f"field {name!r} must be a string, got {type(value).__name__} {_preview(value)}")
    if not value.strip():
        raise BadInputError(f"required field {name!r} is blank")
    return value.strip()


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise BadInputError(f"field {name!r} must be a string, got {type(value).__name__} {_preview(value)}")
    return value.strip()


def _as_list(value: Any, name: str) -> list[str]:
    """A list of strings, or one '|'-joined string (the CSV form); blanks are dropped."""
    if isinstance(value, str):
        items: list[Any] = value.split(LIST_SEPARATOR)
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise BadInputError(f"field {name!r} must be a list of strings or a '|'-joined string, got "
                            f"{type(value).__name__} {_preview(value)}")
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise BadInputError(f"field {name!r} must hold only strings, got {_preview(bad[0])}; quote each value")
    return [item.strip() for item in items if item.strip()]


def _int(value: Any, name: str) -> int:
    """int, an integral float (1999.0 from a spreadsheet export) or a numeric string."""
    if isinstance(value, bool):
        raise BadInputError(f"field {name!r} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise BadInputError(f"field {name!r} must be an integer, got {type(value).__name__} {_preview(value)}")


def _year(value: Any) -> int:
    try:
        year = _int(value, "year")
    except BadInputError:
        raise BadInputError(f"field 'year' must be a 4-digit year like 1999, got {_preview(value)}") from None
    if not 1000 <= year <= 9999:
        raise BadInputError(f"field 'year' must be a 4-digit year like 1999, got {year}")
    return year


def _positive_int(value: Any, name: str) -> int:
    number = _int(value, name)
    if number <= 0:
        raise BadInputError(f"field {name!r} must be a positive integer, got {number}")
    return number


def _float(value: Any, name: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise BadInputError(f"field {name!r} must be a number like 7.5, got {type(value).__name__} {_preview(value)}")


def _iso_date(value: Any, name: str) -> str:
    """ISO date ("2024-03-01") or date-time ("2024-03-01T09:30"), normalised to ISO form."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise BadInputError(f"field {name!r} must be an ISO date like 2024-03-01, got {_preview(value)}")


_CATALOG_OPTIONAL: dict[str, Callable[[Any, str], Any]] = {
    "released": _iso_date,
    "creators": _as_list,
    "cast": _as_list,
    "language": _str,
    "duration_min": _positive_int,
    "rating": _float,
    "url": _str,
}
_NOTE_OPTIONAL: dict[str, Callable[[Any, str], Any]] = {
    "patient_id": _id,
    "date": _iso_date,
    "author": _str,
    "note_type": _str,
}
