"""Launching the browser for the UI tests: Debian's chromium driven by Python Playwright
(DESIGN.md §6), headless, sandbox off (containers), no network chatter. Missing pieces are a
test failure naming the fix, not a skip: CI installs both (`pip install playwright`,
`apt-get install chromium`), and `playwright install` is never needed."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.bench_ui import CHROMIUM, CHROMIUM_ARGS  # one launch recipe for tests and `cairn bench ui`

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def launch_chromium(playwright):
    """A launched headless Browser (close it when done)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}; install it (apt-get install chromium) or point "
                    "CAIRN_CHROMIUM at a chromium binary")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def sync_playwright():
    """playwright.sync_api.sync_playwright, or a failure saying how to install it."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        pytest.fail("Python Playwright is missing; install it into the venv: .venv/bin/pip install playwright "
                    "(no `playwright install`: the tests use Debian's chromium)")
    return start()


def save_artifact(path: Path) -> Path:
    """Copy a file (a screenshot) to test-artifacts/ at the repository root, for CI to upload."""
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / path.name
    shutil.copyfile(path, target)
    return target
