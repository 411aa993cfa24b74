"""Integration: the real MiniLM embedder with a real embedded Chroma, and a real Chroma
server started by the test (`chroma run`). Marked slow; CI runs them."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes import HashEmbedder
from knowledge.config import KnowledgeConfig
from knowledge.embedder import SentenceTransformerEmbedder
from knowledge.filters import parse_filters
from knowledge.index import KnowledgeBase
from knowledge.ingest import ingest
from knowledge.retrieve import search

pytestmark = pytest.mark.slow

ITEMS = [
    ("doc_ice", "Thin Ice", "documentary", 2025, ["science"], "Scientists follow melting glaciers in Greenland and measure how fast the ice sheet is shrinking as the planet heats up."),
    ("doc_sea", "High Water", "documentary", 2019, ["science"], "Coastal towns prepare for rising sea levels and stronger storms driven by global warming."),
    ("film_heist", "The Vault Job", "film", 2021, ["crime", "thriller"], "A crew of retired thieves plans one last bank robbery in Lisbon."),
    ("series_startup", "Seed Round", "series", 2023, ["comedy"], "Awkward software engineers try to build a start-up in a garage while investors circle."),
    ("pod_jazz", "Blue Notes", "podcast", 2024, ["music"], "Conversations with jazz musicians about improvisation and touring life."),
    ("art_bread", "Why Sourdough Rises", "article", 2022, ["food"], "The microbiology of wild yeast and lactic acid bacteria in bread starters."),
]


def write_items(path: Path) -> Path:
    path.write_text("".join(json.dumps({"id": i, "title": t, "type": ty, "year": y, "genres": g, "description": d}) + "\n"
                            for i, t, ty, y, g, d in ITEMS))
    return path


@pytest.fixture
def minilm(real_model):
    return SentenceTransformerEmbedder(model_id="minilm", path=real_model("minilm"))


def test_real_minilm_and_chroma_semantic_retrieval(tmp_path, minilm):
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=minilm)
    report = ingest(kb, [write_items(tmp_path / "c.jsonl")], progress=False)
    assert report.added == len(ITEMS) and minilm.dim == 384
    # No shared keywords: "climate change" vs "global warming"/"melting glaciers".
    dense = search(kb, "films about climate change", mode="dense", k=2).doc_ids
    assert set(dense) == {"doc_ice", "doc_sea"}
    hybrid = search(kb, "comedy about programmers founding a company", mode="hybrid", k=1).doc_ids
    assert hybrid == ["series_startup"]
    recent = search(kb, "climate change", mode="hybrid", filters=parse_filters(["year>=2024"], "catalog"), k=5).doc_ids
    assert recent[0] == "doc_ice" and "doc_sea" not in recent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_chroma_server_mode(tmp_path, chroma_server):
    config = KnowledgeConfig(chroma_mode="server", chroma_port=chroma_server)
    kb = KnowledgeBase("catalog", config, embedder=HashEmbedder())
    src = write_items(tmp_path / "c.jsonl")
    assert ingest(kb, [src], progress=False).added == len(ITEMS)
    assert kb.chroma.all_ids() == kb.store.all_chunk_ids()
    assert search(kb, "jazz musicians improvisation", mode="dense", k=1).doc_ids == ["pod_jazz"]
    assert search(kb, "bank robbery Lisbon", mode="hybrid", k=1).doc_ids == ["film_heist"]
    # a second client (another process in real life) sees the same vectors
    other = KnowledgeBase("catalog", config, embedder=HashEmbedder())
    assert other.chroma.count() == len(ITEMS)


def test_unreachable_server_is_a_clear_error():
    from knowledge.errors import IndexStateError

    kb = KnowledgeBase("catalog", KnowledgeConfig(chroma_mode="server", chroma_port=_free_port()), embedder=HashEmbedder())
    with pytest.raises(IndexStateError, match="cannot reach the Chroma server"):
        kb.chroma
