"""The command line: generated reference in sync, --help everywhere, clean user errors."""
from __future__ import annotations

from pathlib import Path

import pytest

import cli

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_up_to_date():
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert committed == cli.render_cli_reference() + "\n", "docs/cli.md is stale: run `make docs` and commit it"


def test_every_command_has_help():
    for path, parser in cli._walk(cli.build_parser(), ["cairn"]):
        assert parser.format_help().strip(), path
        if len(path) > 1:
            assert parser.description or parser.format_usage(), path


def test_user_error_is_one_line_exit_2(capsys):
    assert cli.main(["search", "anything", "--filter", "colour=red"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cairn search: error: cannot filter catalog on 'colour'")
    assert "Traceback" not in err


def test_ingest_missing_file_is_reported_not_raised(tmp_path, capsys):
    assert cli.main(["ingest", str(tmp_path / "nope.jsonl"), "-c", "catalog", "-q"]) == 0
    out = capsys.readouterr().out
    assert "nope.jsonl" in out and "skipped" in out


def test_search_on_empty_index_says_so(capsys):
    code = cli.main(["search", "climate", "--mode", "bm25"])
    out = capsys.readouterr()
    assert code == 0 and "no results" in out.out


@pytest.mark.parametrize("argv", [["--help"], ["ingest", "--help"], ["search", "--help"], ["models", "pull", "--help"]])
def test_help_exits_zero(argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
