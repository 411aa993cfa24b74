"""The app shell's chat and search handlers as plain functions (scripted model, tiny indexes),
and the served page through gradio_client on a real local server."""
from __future__ import annotations

import json

import pytest

import app
from agent_world import kbs, supported  # noqa: F401 - kbs is a fixture
from assistant.llm import FakeLLM


@pytest.fixture
def services(kbs, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CAIRN_HOME", str(tmp_path / "home"))
    llm = FakeLLM(default="Deep Blue is about the ocean [1].", logprob_tables=[supported()] * 200)
    return app.Services(app.AppConfig(local_role="clinician"), llm=llm, open_kb=kbs.__getitem__)


def test_search_handler_lists_hits_and_checks_the_role(services):
    out = app.search_handler(services, "user", "whales in the ocean", "catalog", "hybrid", "")
    assert out.startswith("1. **Deep Blue** `d1`")
    assert "Tide" not in app.search_handler(services, "user", "ocean", "catalog", "bm25", "year>=2021")
    assert app.search_handler(services, "user", "x", "catalog", "bm25", "colour=red").startswith(
        "**Error:** cannot filter catalog")
    denied = app.search_handler(services, "user", "cough", "notes", "bm25", "")
    assert denied.startswith("**Error:** role 'user' may not read the notes collection") and "azithromycin" not in denied


def test_search_handler_logs_each_note_shown_and_no_catalog_hit(services):
    from assistant.audit_view import audit_view
    from knowledge.audit import AuditLog

    app.search_handler(services, "admin", "whales in the ocean", "catalog", "hybrid", "", user="alice")
    assert AuditLog().records() == []  # catalog reads are not clinical
    out = app.search_handler(services, "clinician", "cough", "notes", "bm25", "", user="bob")
    records = AuditLog().records()
    assert records and {r.user for r in records} == {"bob"} and {r.surface for r in records} == {"app:search"}
    assert {r.doc_ids[0] for r in records} <= {line.split("`")[1] for line in out.splitlines()}
    rows, caption = audit_view("admin", {"user": "bob"})
    assert len(rows) == len(records) and "chain intact" in caption
    assert audit_view("clinician", {})[1].startswith("**Error:** role 'clinician' may not")


@pytest.fixture
def fresh(tmp_path):
    """Services over empty indexes of their own (the knowledge tab writes to them)."""
    from fakes import HashEmbedder
    from knowledge.config import KnowledgeConfig
    from knowledge.index import KnowledgeBase

    opened = {}

    def open_kb(collection):
        opened[collection] = KnowledgeBase(collection, KnowledgeConfig(), embedder=HashEmbedder())
        return opened[collection]

    yield app.Services(app.AppConfig(), llm=FakeLLM(default="x"), open_kb=open_kb), opened
    for kb in opened.values():
        kb.close()


def test_knowledge_tab_ingests_lists_deletes_and_counts(fresh, tmp_path):
    services, _ = fresh
    src = tmp_path / "upload" / "films.jsonl"
    src.parent.mkdir()
    rows = [{"id": "f1", "title": "Thin Ice", "type": "documentary", "year": 2025, "genres": ["science"],
             "description": "Melting glaciers."}, "not json",
            {"id": "f2", "title": "The Vault Job", "type": "film", "year": 2021, "genres": ["crime"],
             "description": "Retired thieves plan a bank robbery."}]
    src.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    seen = []
    results, skipped, summary = app.knowledge_ingest(services, "admin", [str(src)], "catalog",
                                                     progress=lambda f, m: seen.append(f))
    assert results[0][:2] == ["films.jsonl", 2] and skipped[0][:2] == ["films.jsonl", 2]
    assert seen[-1] == 1.0 and seen == sorted(seen) and "films.jsonl" in summary
    docs, caption = app.knowledge_documents(services, "admin", "catalog", "vault")
    assert [d[0] for d in docs] == ["f2"] and caption.startswith("1 document(s) in catalog")
    assert "f2" in app.knowledge_delete(services, "admin", "catalog", "f2, nope")
    stats, sources = app.knowledge_stats(services, "admin", "catalog")
    assert ["documents", "1"] in [[str(a), str(b)] for a, b in stats]
    assert "Thin Ice" in app.search_handler(services, "admin", "glaciers", "catalog", "hybrid", "")
    assert "Vault" not in app.search_handler(services, "admin", "bank robbery", "catalog", "bm25", "")


@pytest.mark.parametrize("role", ["user", "clinician", "expert"])
def test_knowledge_tab_refuses_non_admins_before_opening_an_index(fresh, tmp_path, role):
    services, opened = fresh
    src = tmp_path / "n.jsonl"
    src.write_text('{"id": "note_9", "text": "x"}\n')
    assert app.knowledge_ingest(services, role, [str(src)], "notes")[2].startswith(f"**Error:** role {role!r} may not")
    assert app.knowledge_delete(services, role, "notes", "note_0001").startswith("**Error:** role")
    assert app.knowledge_documents(services, role, "notes", "")[0] == []
    assert app.knowledge_stats(services, role, "notes")[0][0][0] == "error"
    assert opened == {}


def test_local_role_applies_only_without_users(services):
    assert app.role_of(services, None) == "clinician"


def test_serving_beyond_localhost_needs_users(tmp_path, monkeypatch):
    import cli

    monkeypatch.setenv("CAIRN_HOME", str(tmp_path))
    with pytest.raises(app.AppError, match="refusing to serve on 0.0.0.0 without users"):
        app.cmd_serve(cli.build_parser().parse_args(["serve", "--host", "0.0.0.0"]))


@pytest.mark.slow
def test_served_page_answers_through_gradio_client(services):
    from gradio_client import Client

    demo = app.build_demo(services)
    demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        out = client.predict("whales in the ocean", "catalog", "hybrid", "", api_name="/search")
        assert "Deep Blue" in out
    finally:
        demo.close()
