"""The app shell: the search handler as a plain function, and the served page through
gradio_client on a real local server."""
from __future__ import annotations

import json

import pytest

import app
from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest


@pytest.fixture
def catalog_kb(tmp_path, monkeypatch):
    rows = [{"id": "d1", "title": "Thin Ice", "type": "documentary", "year": 2025, "genres": ["science"],
             "description": "Melting glaciers and a warming planet."},
            {"id": "f1", "title": "The Vault Job", "type": "film", "year": 2021, "genres": ["crime"],
             "description": "Retired thieves plan a bank robbery."}]
    src = tmp_path / "c.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder())
    ingest(kb, [src], progress=False)
    monkeypatch.setitem(app._KBS, "catalog", kb)
    return kb


def test_search_handler_lists_hits(catalog_kb):
    out = app.search_handler("melting glaciers", "catalog", "hybrid", "")
    assert out.startswith("1. **Thin Ice** `d1`")


def test_search_handler_filters_and_errors(catalog_kb):
    assert "Vault" not in app.search_handler("bank robbery", "catalog", "bm25", "type=documentary")
    assert app.search_handler("x", "catalog", "bm25", "colour=red").startswith("**Error:** cannot filter catalog")


@pytest.mark.slow
def test_served_page_answers_through_gradio_client(catalog_kb):
    from gradio_client import Client

    demo = app.build_demo()
    demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        out = client.predict("melting glaciers", "catalog", "hybrid", "", api_name="/search")
        assert "Thin Ice" in out
    finally:
        demo.close()
