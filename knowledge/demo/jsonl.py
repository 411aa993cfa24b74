"""Reading and writing the demo's `.jsonl` files byte-for-byte reproducibly: UTF-8, one object
per line, keys in a fixed order, `\n` line ends, no trailing spaces."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence


def dumps(row: dict[str, Any], key_order: Sequence[str] = ()) -> str:
    """One line of JSON with `key_order` first and any other keys after them, sorted."""
    ordered = {k: row[k] for k in key_order if k in row}
    ordered.update({k: row[k] for k in sorted(row) if k not in ordered})
    return json.dumps(ordered, ensure_ascii=False, separators=(", ", ": "))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]], key_order: Sequence[str] = (),
                progress: Callable[[int], None] | None = None, every: int = 1000) -> int:
    """Write rows; returns how many. Writes to a temporary file first so a crash never leaves
    half a data file behind; `progress(k)` hears about every `every` rows (and the remainder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(dumps(row, key_order) + "\n")
            count += 1
            if progress and count % every == 0:
                progress(every)
    if progress and count % every:
        progress(count % every)
    tmp.replace(path)
    return count


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)
