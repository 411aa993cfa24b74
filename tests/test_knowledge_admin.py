"""Knowledge-base administration (knowledge/admin.py), the core of the UI's Knowledge tab:
uploads ingested with per-file results and skipped lines, progress, deletion from every
index, listing, statistics — and role checks that fire before anything is opened."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from assistant.roles import RoleError, can_admin, require_admin
from fakes import HashEmbedder
from knowledge.admin import (DeleteResult, UploadReport, delete_documents, index_statistics, ingest_uploads,
                             list_documents)
from knowledge.config import KnowledgeConfig
from knowledge.errors import BadInputError, KnowledgeError
from knowledge.index import KnowledgeBase
from knowledge.retrieve import search


TOPICS = ["glaciers", "jazz", "bakers", "pirates", "volcanoes", "robots", "orchards", "lighthouses",
          "chess", "tides", "falcons", "quarries", "violins", "deserts", "comets"]


def item(i: int, **over) -> dict:
    base = {"id": f"item_{i:02d}", "title": f"Title {i}", "type": "film", "genres": ["drama"], "year": 2000 + i,
            "description": f"Story {i} about {TOPICS[i]} and friends."}
    base.update(over)
    return base


def upload(tmp_path: Path, name: str, content: str | list[dict]) -> Path:
    """A file as Gradio hands it over: a temp folder, the original name inside."""
    folder = tmp_path / "gradio" / f"tmp{abs(hash((name, str(content)))) % 10**8}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content if isinstance(content, str) else "".join(json.dumps(r) + "\n" for r in content))
    return path


@pytest.fixture
def catalog() -> KnowledgeBase:
    kb = KnowledgeBase("catalog", KnowledgeConfig(ingest_batch_docs=2), embedder=HashEmbedder())
    yield kb
    kb.close()


@pytest.fixture
def notes() -> KnowledgeBase:
    kb = KnowledgeBase("notes", KnowledgeConfig(ingest_batch_docs=2), embedder=HashEmbedder())
    yield kb
    kb.close()


BAD_FILE = "\n".join([
    json.dumps(item(10)),
    '{"id": "item_11", "title": "broken',                               # line 2: malformed JSON
    json.dumps(item(12)),
    json.dumps({k: v for k, v in item(13).items() if k != "year"}),     # line 4: no year
    json.dumps(item(14)),
]) + "\n"


# --- uploads ---------------------------------------------------------------------------------

def test_upload_reports_each_file_and_its_skipped_lines(tmp_path, catalog, cairn_home):
    good = upload(tmp_path, "good.jsonl", [item(i) for i in range(5)])
    bad = upload(tmp_path, "bad.jsonl", BAD_FILE)
    report = ingest_uploads("admin", "catalog", [good, bad], kb=catalog)

    assert isinstance(report, UploadReport) and [f.name for f in report.files] == ["good.jsonl", "bad.jsonl"]
    first, second = report.files
    assert (first.added, first.updated, first.unchanged, first.deleted, first.skipped) == (5, 0, 0, 0, ())
    assert first.chunks == 5 and first.status == "ok"
    assert (second.added, second.status) == (3, "2 skipped")
    assert [s.line for s in second.skipped] == [2, 4]
    assert "invalid JSON" in second.skipped[0].reason
    assert "missing required field 'year'" in second.skipped[1].reason

    # Provenance: the documents name the stored upload, not the temp folder Gradio may clean.
    stored = cairn_home / "uploads" / "catalog" / "good.jsonl"
    assert first.source == str(stored) and stored.read_text() == good.read_text()
    assert catalog.store.get_document("item_00").source == str(stored)

    assert report.to_rows()[1] == ["bad.jsonl", 3, 0, 0, 0, 3, 2, "2 skipped"]
    assert report.skipped_rows()[0][:2] == ["bad.jsonl", 2]
    md = report.to_markdown()
    assert "| bad.jsonl | 2 |" in md and "missing required field 'year'" in md
    assert search(catalog, "pirates", mode="bm25", k=5).doc_ids == ["item_03"]


def test_reupload_of_a_file_replaces_it(tmp_path, catalog):
    ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl", [item(i) for i in range(4)])], kb=catalog)
    rows = [item(0), item(1, description="Now about submarines."), item(2)]          # 1 changed, 3 gone
    report = ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl", rows)], kb=catalog)
    (result,) = report.files
    assert (result.added, result.updated, result.unchanged, result.deleted) == (0, 1, 2, 1)
    assert catalog.store.existing_doc_ids([f"item_0{i}" for i in range(4)]) == {"item_00", "item_01", "item_02"}


def test_note_files_keep_their_original_names_as_ids(tmp_path, notes):
    temp = upload(tmp_path, "tmpx8f2k.md", "HPI: cough and fever for three days.\nPLAN: fluids.")
    report = ingest_uploads("admin", "notes", [temp], names=["note_0042.md"], kb=notes)
    assert report.files[0].name == "note_0042.md" and report.files[0].added == 1
    assert notes.store.get_document("note_0042") is not None


def test_progress_is_monotonic_and_ends_at_one(tmp_path, catalog):
    calls: list[tuple[float, str]] = []
    files = [upload(tmp_path, f"part{n}.jsonl", [item(i) for i in range(n * 5, n * 5 + 5)]) for n in range(2)]
    ingest_uploads("admin", "catalog", files, progress=lambda f, m: calls.append((f, m)), kb=catalog)
    fractions = [f for f, _ in calls]
    assert len(calls) >= 5  # receiving, reading, embedding batches, BM25, done
    assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions[-1] == 1.0 and fractions[0] < 0.1
    assert all(isinstance(m, str) and m for _, m in calls)
    assert any("embedding" in m for _, m in calls) and calls[-1][1].startswith("done")


def test_bad_extension_names_the_file_and_the_fix(tmp_path, catalog, cairn_home):
    good = upload(tmp_path, "good.jsonl", [item(1)])
    with pytest.raises(BadInputError, match=r"films\.xlsx: unsupported file type \('\.xlsx'\).*\.csv, \.json or "
                                            r"\.jsonl \(export tables as \.csv\)"):
        ingest_uploads("admin", "catalog", [good, upload(tmp_path, "films.xlsx", "x")], kb=catalog)
    with pytest.raises(BadInputError, match=r"note\.txt: \.txt files can only be loaded as notes"):
        ingest_uploads("admin", "catalog", [upload(tmp_path, "note.txt", "x")], kb=catalog)
    assert not (cairn_home / "uploads").exists(), "a rejected batch must not store any file"
    assert not catalog.store.has_documents()


def test_other_upload_errors(tmp_path, catalog):
    good = upload(tmp_path, "a.jsonl", [item(1)])
    with pytest.raises(KnowledgeError, match="unknown collection 'films'"):
        ingest_uploads("admin", "films", [good], kb=catalog)
    with pytest.raises(BadInputError, match="no files uploaded"):
        ingest_uploads("admin", "catalog", [], kb=catalog)
    with pytest.raises(BadInputError, match="two uploaded files are named a.jsonl"):
        ingest_uploads("admin", "catalog", [good, good], kb=catalog)
    with pytest.raises(BadInputError, match="gone.jsonl: the uploaded file is gone"):
        ingest_uploads("admin", "catalog", [tmp_path / "gone.jsonl"], kb=catalog)
    with pytest.raises(BadInputError, match="no usable file name"):
        ingest_uploads("admin", "catalog", [good], names=[".."], kb=catalog)
    with pytest.raises(KnowledgeError, match="is the catalog collection, not notes"):
        ingest_uploads("admin", "notes", [good], kb=catalog)


def sparse_upload(tmp_path: Path, name: str, mb: float) -> Path:
    path = upload(tmp_path, name, "")
    with path.open("wb") as out:  # NUL bytes as a hole: no disk used
        out.truncate(int(mb * 2**20))
    return path


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(tmp_path, catalog, cairn_home, monkeypatch):
    big = sparse_upload(tmp_path, "films.jsonl", 60)
    opened = []
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    with pytest.raises(BadInputError, match=r"films\.jsonl is 60\.0 MB, over the 50 MB upload limit; .*raise "
                                            r"max_upload_mb in the \[knowledge\] table of CAIRN_HOME/config\.toml"):
        ingest_uploads("admin", "catalog", [upload(tmp_path, "ok.jsonl", [item(1)]), big], kb=catalog)
    assert big not in opened and not (cairn_home / "uploads").exists()


def test_the_upload_limit_comes_from_the_config(tmp_path, catalog):
    medium = sparse_upload(tmp_path, "films.jsonl", 1.5)
    strict = KnowledgeBase("catalog", KnowledgeConfig(max_upload_mb=1), embedder=HashEmbedder())
    try:
        with pytest.raises(BadInputError, match=r"films\.jsonl is 1\.5 MB, over the 1 MB upload limit"):
            ingest_uploads("admin", "catalog", [medium], kb=strict)
    finally:
        strict.close()
    report = ingest_uploads("admin", "catalog", [medium], kb=catalog)  # the default 50 MB lets it through
    assert report.files[0].name == "films.jsonl" and report.files[0].skipped  # NUL bytes are no JSON
    with pytest.raises(KnowledgeError, match="max_upload_mb must be a positive integer, got 0"):
        KnowledgeConfig(max_upload_mb=0)


# --- delete, list, statistics ---------------------------------------------------------------

def test_delete_removes_from_bm25_dense_and_stats(tmp_path, catalog):
    ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl", [item(i) for i in range(8)])], kb=catalog)
    for mode in ("bm25", "dense"):
        assert search(catalog, "pirates", mode=mode, k=1).doc_ids == ["item_03"]
    before = index_statistics("admin", "catalog", kb=catalog)

    result = delete_documents("admin", "catalog", ["item_03", "item_07", "nope", "item_03"], kb=catalog)
    assert result == DeleteResult("catalog", ("item_03", "item_07"), ("nope",), 2)
    assert "Not found: nope" in result.to_markdown()
    for mode in ("bm25", "dense", "hybrid"):
        assert not {"item_03", "item_07"} & set(search(catalog, "pirates lighthouses", mode=mode, k=10).doc_ids)
    after = index_statistics("admin", "catalog", check=True, kb=catalog)
    assert (after.documents, after.chunks) == (before.documents - 2, before.chunks - 2)
    assert after.consistent is True and after.chroma_vectors == 6
    assert "item_03" not in list_documents("admin", "catalog", kb=catalog).ids
    with pytest.raises(BadInputError, match="no document ids given"):
        delete_documents("admin", "catalog", [" ", ""], kb=catalog)


def test_cairn_delete_command(tmp_path, catalog, capsys):
    ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl", [item(i) for i in range(3)])], kb=catalog)
    catalog.close()
    # A fresh process view, default config: deleting must not need the embedding model.
    assert cli.main(["delete", "item_01", "--collection", "catalog"]) == 0
    assert "Deleted 1 document(s) (1 chunks) from catalog: item_01." in capsys.readouterr().out
    assert cli.main(["delete", "item_01", "item_02", "-c", "catalog"]) == 1
    assert "Not found: item_01." in capsys.readouterr().out
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    assert kb.store.existing_doc_ids(["item_00", "item_01", "item_02"]) == {"item_00"}
    assert kb.chroma.all_ids() == kb.store.all_chunk_ids() and kb.bm25().n_rows == 1
    kb.close()


def test_list_documents_filters_and_limits(tmp_path, catalog):
    ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl",
                                               [item(i, title=f"Glacier {i}" if i < 3 else f"Title {i}")
                                                for i in range(12)])], kb=catalog)
    page = list_documents("admin", "catalog", limit=5, kb=catalog)
    assert page.total == 12 and page.ids == [f"item_{i:02d}" for i in range(5)]
    assert page.caption() == "5 of 12 document(s) in catalog"
    assert page.to_rows()[0] == ["item_00", "Glacier 0 (film, 2000)", "films.jsonl", 1, 1, page.documents[0].indexed_at]
    found = list_documents("admin", "catalog", "glacier", kb=catalog)
    assert found.ids == ["item_00", "item_01", "item_02"] and found.total == 3
    assert list_documents("admin", "catalog", "100%_x", kb=catalog).total == 0  # LIKE wildcards are literal
    with pytest.raises(BadInputError, match="limit must be an integer"):
        list_documents("admin", "catalog", limit=0, kb=catalog)


def test_index_statistics(tmp_path, catalog):
    empty = index_statistics("admin", "catalog", kb=catalog)
    assert (empty.documents, empty.embedder, empty.last_ingest) == (0, None, None)
    ingest_uploads("admin", "catalog", [upload(tmp_path, "films.jsonl", [item(i) for i in range(4)]),
                                        upload(tmp_path, "bad.jsonl", BAD_FILE)], kb=catalog)
    stats = index_statistics("admin", "catalog", kb=catalog)
    assert (stats.documents, stats.chunks, stats.embedder, stats.dim) == (7, 7, "fake-hash-64", 64)
    assert stats.last_ingest["added"] == 7 and stats.last_ingest["skipped"] == 2
    assert stats.size_bytes["docstore"] > 0 and stats.size_bytes["chroma"] > 0 and stats.size_bytes["bm25"] > 0
    assert stats.size_bytes["total"] == sum(v for k, v in stats.size_bytes.items() if k != "total")
    assert sorted(stats.source_rows()) == [["bad.jsonl", 3], ["films.jsonl", 4]]
    rows = dict(stats.to_rows())
    assert rows["documents"] == "7" and rows["embedder"] == "fake-hash-64 (dim 64)"
    assert "7 added" in rows["last ingest"] and "2 skipped" in rows["last ingest"]
    assert stats.to_dict()["sources"] == dict(stats.sources)


# --- roles ------------------------------------------------------------------------------------

def test_roles_helpers():
    assert can_admin("admin") and not any(can_admin(r) for r in ("user", "clinician", "expert"))
    require_admin("admin")
    with pytest.raises(RoleError, match="role 'expert' may not manage the knowledge base; roles that may: admin"):
        require_admin("expert")
    with pytest.raises(RoleError, match="unknown role 'root'"):
        require_admin("root")


@pytest.mark.parametrize("role", ["user", "clinician", "expert", "root"])
@pytest.mark.parametrize("collection", ["catalog", "notes", "films"])
def test_only_admin_may_manage_knowledge_and_nothing_opens_first(tmp_path, cairn_home, role, collection):
    f = upload(tmp_path, "x.jsonl", [item(1)])
    calls = [lambda: ingest_uploads(role, collection, [f]),
             lambda: ingest_uploads(role, collection, [tmp_path / "missing.xlsx"]),
             lambda: delete_documents(role, collection, ["item_01"]),
             lambda: list_documents(role, collection),
             lambda: index_statistics(role, collection, check=True)]
    for call in calls:
        with pytest.raises(RoleError):
            call()
    assert not (cairn_home / "index").exists() and not (cairn_home / "uploads").exists()


def test_non_admins_never_see_notes_through_the_handlers(tmp_path, notes):
    secret = upload(tmp_path, "notes.jsonl", [{"id": "note_secret", "text": "HPI: chest pain.", "patient_id": "P77"}])
    ingest_uploads("admin", "notes", [secret], kb=notes)
    for role in ("user", "clinician", "expert"):  # a clinician reads notes in chat, but does not administer them
        for call in (lambda: list_documents(role, "notes", "", kb=notes),
                     lambda: index_statistics(role, "notes", kb=notes),
                     lambda: delete_documents(role, "notes", ["note_secret"], kb=notes)):
            with pytest.raises(RoleError) as info:
                call()
            message = str(info.value)
            assert "note_secret" not in message and "P77" not in message and "1" not in message
    assert notes.store.existing_doc_ids(["note_secret"]) == {"note_secret"}
    assert list_documents("admin", "notes", "P77", kb=notes).documents[0].label == "P77"
