"""Every test runs with its own CAIRN_HOME and the offline switches on."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from knowledge.home import set_offline_env  # noqa: E402

set_offline_env()
# Read before the autouse fixture below clears CAIRN_* variables for isolation.
MODELS_HOME = Path(os.environ.get("CAIRN_TEST_MODELS_HOME", ROOT / ".cairn"))


@pytest.fixture(autouse=True)
def cairn_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cairn_home"
    monkeypatch.setenv("CAIRN_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("CAIRN_") and key != "CAIRN_HOME":
            monkeypatch.delenv(key)
    return home


@pytest.fixture(scope="session")
def real_models_home() -> Path | None:
    """The CAIRN_HOME that `make test` provisioned models into (repo .cairn), if any."""
    return MODELS_HOME if (MODELS_HOME / "models" / "registry.json").exists() else None
