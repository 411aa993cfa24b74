"""The served app under concurrent use, through gradio_client on a real local server with logins:
20 simultaneous chat requests all complete with a verified answer, and 10 graders submitting at
the same moment lose no grade."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import app
import assistant.users as users
from agent_world import supported
from assistant.llm import FakeLLM
from evals.grading.records import Item

PASSWORD = "correct horse battery"


@pytest.fixture
def served(kbs, monkeypatch):
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)  # logins are not what is measured here
    users.add_user("reader", PASSWORD, "user")
    for i in range(10):
        users.add_user(f"grader{i}", PASSWORD, "expert")
    llm = FakeLLM(default="Deep Blue is about the ocean [1].", logprob_tables=[supported()] * 2000)
    services = app.Services(app.AppConfig(), llm=llm, open_kb=kbs.__getitem__)
    item_id = services.grades().add_item(Item(question="Ocean documentaries?", answer="Deep Blue [1].",
                                              collection="catalog", system="base", cited_ids=("d1",)))
    demo = app.build_demo(services)
    demo.queue(default_concurrency_limit=1, max_size=64).launch(
        server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True, auth=app.authenticate_user)
    try:
        yield demo.local_url, services, item_id
    finally:
        demo.close()


def _text(content) -> str:
    """A chatbot message's content as the API returns it: a string, or a list of text parts."""
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def _client(url: str, name: str):
    from gradio_client import Client

    return Client(url, auth=(name, PASSWORD), verbose=False)


@pytest.mark.slow
def test_twenty_simultaneous_chats_and_ten_simultaneous_graders(served):
    url, services, item_id = served
    start = threading.Barrier(20)

    def chat(i: int):
        client = _client(url, "reader")
        start.wait()
        return client.predict(f"documentaries about the ocean #{i}", "catalog", "any", 0, 0, "", api_name="/chat")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(chat, range(20)))
    for i, (messages, cards, status, *_) in enumerate(results):
        assert _text(messages[0]["content"]) == f"documentaries about the ocean #{i}"
        # the answer as Markdown: its marker escaped (it renders as "[1]", and can form no link)
        assert re.match(r"Deep Blue is about the ocean \\\[\d\\\]", _text(messages[-1]["content"])), messages
        assert "1/1 sentences supported" in status and 'class="cairn-card"' in cards

    graders = threading.Barrier(10)

    def grade(i: int) -> str:
        client = _client(url, f"grader{i}")
        graders.wait()
        return client.predict(item_id, 5, 4, 3, 2, 1 + i % 5, f"grader {i}", "", api_name="/grade")

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(grade, range(10)))
    assert all(s.startswith("Saved grade #") for s in statuses), statuses
    grades = services.grades().grades(role="admin", item_id=item_id)
    assert sorted(g.grader for g in grades) == sorted(f"grader{i}" for i in range(10))
    assert sorted(g.comment for g in grades) == sorted(f"grader {i}" for i in range(10))
