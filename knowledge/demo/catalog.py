"""The demo catalog builder: real films (Wikipedia leads joined with MovieLens/IMDb metadata,
`films.py`), four hand-described anchor titles (`anchors.py`) and generated series,
documentaries, podcasts, articles and films (`authored.py`), written as one sorted
`catalog.jsonl` in the DESIGN.md §2 item format.

    ids    film_0001..  real films and documentary films, in source order
           film_1001..  generated films
           series_/doc_/podcast_/article_NNNN  anchors first, then generated items

Deterministic: the same seed and the same source packages give the same bytes.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from . import CATALOG_FILE, TODAY
from .anchors import anchor_items
from .authored import AuthoredConfig, TitleRegistry, authored_items
from .films import film_items
from .jsonl import write_jsonl
from .sources import load_sources

ITEM_TYPES = ("film", "series", "documentary", "podcast", "article")
ID_PREFIXES = {"film": "film", "series": "series", "documentary": "doc", "podcast": "podcast", "article": "article"}
GENERATED_FILM_START = 1001  # leaves room below for the real films, so their ids never collide
FIELD_ORDER = ("id", "title", "type", "year", "released", "genres", "language", "duration_min", "rating",
               "creators", "cast", "seasons", "episodes", "description", "topics", "source")

REQUIRED_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str, "title": str, "type": str, "description": str, "genres": list, "year": int,
}
OPTIONAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "released": str, "creators": list, "cast": list, "language": str, "duration_min": int,
    "rating": (int, float), "url": str, "topics": list, "seasons": int, "episodes": int, "source": str,
}
_ISO_639_1 = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class CatalogConfig:
    """authored: how many items of each type to generate, and the seed that drives them."""

    authored: AuthoredConfig = field(default_factory=AuthoredConfig)

    @classmethod
    def with_seed(cls, seed: int) -> "CatalogConfig":
        return cls(AuthoredConfig(seed=seed))

    @property
    def seed(self) -> int:
        return self.authored.seed


def validate_item(item: dict[str, Any]) -> list[str]:
    """Everything wrong with one catalog item (empty list when it is valid)."""
    problems = []
    for name, kind in REQUIRED_FIELDS.items():
        if not isinstance(item.get(name), kind) or isinstance(item.get(name), bool):
            problems.append(f"{name} must be {kind}, got {item.get(name)!r}")
    for name, kind in OPTIONAL_FIELDS.items():
        if name in item and not isinstance(item[name], kind):
            problems.append(f"{name} must be {kind}, got {item[name]!r}")
    if not str(item.get("description", "")).strip():
        problems.append("description is empty")
    if any(not isinstance(g, str) or g != g.lower() or not g for g in item.get("genres", [])) or not item.get("genres"):
        problems.append(f"genres must be non-empty lowercase strings, got {item.get('genres')!r}")
    if "language" in item and not _ISO_639_1.match(str(item["language"])):
        problems.append(f"language must be an ISO 639-1 code, got {item['language']!r}")
    if "released" in item:
        try:
            released = dt.date.fromisoformat(item["released"])
            if released.year != item.get("year") or released > TODAY:
                problems.append(f"released {released} disagrees with year {item.get('year')} or is after {TODAY}")
        except ValueError:
            problems.append(f"released must be an ISO date, got {item['released']!r}")
    if isinstance(item.get("year"), int) and not 1880 <= item["year"] <= TODAY.year:
        problems.append(f"year {item['year']} is outside 1880..{TODAY.year}")
    return problems


def _number(items: Iterable[dict[str, Any]], prefix: str, start: int = 1) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}_{n:04d}", **item} for n, item in enumerate(items, start)]


def build_catalog(config: CatalogConfig | None = None) -> list[dict[str, Any]]:
    """All catalog items, sorted by id. Raises `SourceUnavailableError` without the packages."""
    config = config or CatalogConfig()
    real = film_items(load_sources())
    titles = TitleRegistry(item["title"] for item in real)
    anchors = anchor_items()
    for anchor in anchors:
        titles.claim([anchor["title"]])
    generated = authored_items(config.authored, titles)
    items = _number(real, "film")
    items += _number(generated["film"], "film", GENERATED_FILM_START)
    for item_type in ("series", "documentary", "podcast", "article"):
        # Generated docuseries are series; anchors go first within their type.
        own = [a for a in anchors if a["type"] == item_type] + generated[item_type]
        items += _number(own, ID_PREFIXES[item_type])
    items.sort(key=lambda item: item["id"])
    problems = [f"{item.get('id')}: {p}" for item in items for p in validate_item(item)]
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        problems.append("duplicate ids")
    if problems:
        raise ValueError("the catalog builder produced invalid items:\n" + "\n".join(problems[:20]))
    return items


def write_catalog(out_dir: Path, config: CatalogConfig | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Build and write `catalog.jsonl` into `out_dir`; returns its path and the items."""
    path = Path(out_dir) / CATALOG_FILE
    items = build_catalog(config)
    write_jsonl(path, items, FIELD_ORDER)
    return path, items
