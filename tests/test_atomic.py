"""Crash-safe replacement (knowledge/atomic.py): replacing a build folder leaves the old one or
the new one on disk at every step, and a crash between the two renames is undone at start-up
(the next swap, a registry read, a build lookup)."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from finetune.builds import Build, install_build, inspect_build
from knowledge import atomic
from knowledge.atomic import recover_dir, staged_dir, swap_dir
from knowledge.home import models_dir
from knowledge.models_registry import RegistryEntry, get_entry, put_entry


class Crash(BaseException):
    """The process dying: nothing after it runs (a BaseException, so no `except Exception` catches it)."""


def build_folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text(text)
    return path


@contextlib.contextmanager
def crash_before_the_new_folder_moves_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Within the block, a folder swap dies right after the old folder moved aside: the new one
    is never renamed into place, and no clean-up runs."""
    real = os.replace
    moved_aside = []

    def replace(src, dst):
        if moved_aside:
            raise Crash
        if str(dst).endswith(".replaced"):
            moved_aside.append(src)
        real(src, dst)

    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "replace", replace)
        patch.setattr(atomic, "recover_dir", lambda final: None)  # a dead process finishes nothing
        with pytest.raises(Crash):
            yield


def test_a_swap_replaces_the_folder_and_leaves_no_backup(tmp_path: Path) -> None:
    final = build_folder(tmp_path / "build", "old")
    swap_dir(build_folder(tmp_path / "new", "new"), final)
    assert (final / "config.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]


def test_a_crash_between_the_renames_keeps_the_old_build_and_start_up_restores_it(tmp_path, monkeypatch):
    out = build_folder(tmp_path / "builds" / "tiny-nf4", "old")
    with crash_before_the_new_folder_moves_in(monkeypatch), staged_dir(out) as staging:
        (staging / "config.json").write_text("new")
    assert not out.exists()
    assert [p.read_text() for p in out.parent.rglob("config.json")].count("old") == 1  # not lost: set aside
    recover_dir(out)  # what every later swap and build lookup does first
    assert (out / "config.json").read_text() == "old"
    assert not any(p.name.endswith(".replaced") for p in out.parent.iterdir())


def test_a_failed_rename_puts_the_old_build_back_at_once(tmp_path, monkeypatch):
    out = build_folder(tmp_path / "merged", "old")
    real = os.replace

    def refuse_the_new(src, dst):
        if Path(src).name.startswith(".merged.") and not str(src).endswith(".replaced"):  # the staging folder
            raise OSError("disk went away")
        real(src, dst)

    with monkeypatch.context() as patch, pytest.raises(OSError, match="disk went away"):
        patch.setattr(atomic.os, "replace", refuse_the_new)
        with staged_dir(out) as staging:
            (staging / "config.json").write_text("new")
    assert (out / "config.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]  # no staging, no backup


def test_a_registered_build_is_restored_when_the_registry_is_next_read(tmp_path, monkeypatch):
    def install(text: str) -> Path:
        source = build_folder(tmp_path / f"out-{text}", text)
        return install_build(Build(source, source, "model", {}, None), "my-build")

    dest = install("old")
    put_entry(RegistryEntry(name="my-build", role="answer", format="transformers", path="my-build",
                            files=("config.json",), size_bytes=3, sha256=""))
    with crash_before_the_new_folder_moves_in(monkeypatch):
        install("new")
    assert not dest.exists()
    entry = get_entry("my-build")  # start-up: the next registry read
    assert entry.is_present() and (dest / "config.json").read_text() == "old"
    assert inspect_build(dest).kind == "model"
    assert not any(p.name.startswith(".my-build") for p in models_dir().iterdir())


def test_looking_up_a_build_path_restores_it(tmp_path):
    out = build_folder(tmp_path / "builds" / "tiny-int8", "old")
    os.replace(out, out.with_name(".tiny-int8.replaced"))  # as a crash mid-swap leaves it
    assert inspect_build(out).folder == out.resolve() and (out / "config.json").read_text() == "old"
