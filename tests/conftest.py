"""Every test runs with its own CAIRN_HOME and the offline switches on."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The tiny catalog + notes world of the agent tests (its `kbs` fixture).
pytest_plugins = ["agent_world"]

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


@pytest.fixture(scope="session")
def real_model(real_models_home):
    """real_model("minilm") -> the provisioned model's folder, or skip saying how to get it."""
    def folder(name: str) -> Path:
        path = real_models_home / "models" / name if real_models_home else None
        if path is None or not path.exists() or not any(path.iterdir()):
            pytest.skip(f"{name} is not provisioned; run `cairn models pull {name}` (make test does)")
        return path
    return folder
