"""An Answer as the chat UI shows it: the answer text with unsupported sentences flagged, the
"no answer in the sources" state, and one source card per [n] marker with the supporting span
highlighted. Pure functions over `Answer`, so the web page, its API and the tests agree.

    Answer ─▶ answer_markdown ─▶ "Alien is a 1979 film \\[1\\]. ⚠ *It won five Oscars.* (unverified)"
           ─▶ source_cards    ─▶ [SourceCard(n=1, title="Alien", passage=…, highlight=(12, 40), …)]
           ─▶ cards_html      ─▶ <div class="cairn-card" id="source-1">…<mark>…</mark>…</div>

Everything that came from a document, a question or the model is escaped here
(knowledge/safe_text.py): a catalog description, a note or a reply may hold markup, and the page
must show it as text — never run it, and never load an image or a frame it names. Under the
`remove` policy the raw reply is never shown while it is written: the sources retrieved appear
first (`retrieved_cards`), then each sentence once the verifier has passed it, so a sentence the
verifier drops never reaches the screen, even briefly.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assistant.answer import FLAG_TEXT, Answer
from assistant.citations import MARKER_RE, parse_numbers
from assistant.render import cited_offsets, source_label
from knowledge.safe_text import html_text, markdown_text
from knowledge.types import Chunk

NO_ANSWER_TITLE = "No answer in the sources"
UNVERIFIED_NOTE = "(unverified: its sources do not support it)"
WRITING = "_Writing the answer and checking it against its sources…_"


@dataclass(frozen=True)
class SourceCard:
    """One cited source as a card.

    Fields:
        n: its number, matching the answer's [n] markers.
        title / kind / year: what it is ("Alien", "film", 1979); a note shows its note type,
            patient and date in `facts` instead.
        doc_id: the document id (what `cairn ask "tell me about <id>"` would open).
        passage: the chunk's text as retrieved.
        highlight: [start, end) of the supporting span inside `passage` (may be empty).
        relevance: the verifier's support score in [0, 1] (None when not verified).
    """

    n: int
    title: str
    kind: str
    year: str
    facts: str
    doc_id: str
    passage: str
    highlight: tuple[int, int]
    relevance: float | None

    def __post_init__(self) -> None:
        start, end = self.highlight
        if not 0 <= start <= end <= len(self.passage):
            raise ValueError(f"SourceCard {self.n}: highlight {self.highlight!r} is outside its passage "
                             f"of {len(self.passage)} characters")

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "title": self.title, "type": self.kind, "year": self.year, "facts": self.facts,
                "doc_id": self.doc_id, "passage": self.passage, "highlight": list(self.highlight),
                "quote": self.passage[self.highlight[0]:self.highlight[1]], "relevance": self.relevance}


def source_cards(answer: Answer) -> list[SourceCard]:
    """One card per citation of the shown answer, in marker order; none when it refused."""
    return [_card(c.n, answer.chunks[c.n - 1], cited_offsets(answer.chunks[c.n - 1], c.span), c.score)
            for c in sorted(answer.citations, key=lambda c: c.n)]


def retrieved_cards(chunks: Sequence[Chunk]) -> list[SourceCard]:
    """One card per retrieved source, numbered as the answer will cite them, shown while the
    answer is written (nothing highlighted yet: no sentence has cited anything)."""
    return [_card(n, chunk, (0, 0), None) for n, chunk in enumerate(chunks, start=1)]


def _card(n: int, chunk: Chunk, highlight: tuple[int, int], relevance: float | None) -> SourceCard:
    meta = chunk.metadata
    facts = ", ".join(str(meta[k]) for k in ("note_type", "patient_id", "date", "section") if meta.get(k))
    return SourceCard(n, str(meta.get("title") or source_label(chunk)), str(meta.get("type") or ""),
                      str(meta.get("year") or ""), facts, chunk.doc_id, chunk.text, highlight, relevance)


def answer_markdown(answer: Answer) -> str:
    """The answer for the chat window: flagged sentences marked with ⚠ and a note, or the
    no-answer state with the refusal sentence. The model's text is escaped piece by piece
    around the flags, so the only Markdown in the result is ours."""
    if answer.refused:
        searched = f" ({len(answer.chunks)} passages searched)" if answer.chunks else ""
        return f"**{NO_ANSWER_TITLE}**{searched}\n\n{markdown_text(answer.text)}"
    flagged = sorted({f for f in answer.trace.get("flagged", []) if f}, key=len, reverse=True)
    pieces = re.split("(" + "|".join(map(re.escape, flagged)) + ")", answer.text) if flagged else [answer.text]
    text = "".join(f"⚠ *{markdown_text(piece.replace(FLAG_TEXT, '').strip())}* {UNVERIFIED_NOTE}"
                   if piece in flagged else markdown_text(piece) for piece in pieces)
    removed = answer.trace.get("removed", [])
    if removed:
        text += (f"\n\n<sub>{len(removed)} sentence{'s' if len(removed) != 1 else ''} removed: "
                 "not supported by the sources.</sub>")
    return text


def preview_markdown(partial: str, policy: str, verified: Sequence[str] = ()) -> str:
    """What the chat window shows while the reply is written: the escaped text so far under
    `flag` (whose answer shows unsupported sentences anyway, marked); under `remove` only the
    sentences verified so far, then a neutral line (dropped sentences must never show)."""
    if policy == "flag":
        return markdown_text(partial)
    return " ".join(markdown_text(text) for text in verified) + ("\n\n" if verified else "") + WRITING


def answer_status(answer: Answer) -> str:
    """One line under the answer: how it was checked and how long it took."""
    checks = [s for s in answer.sentences if s.supported is not None]
    supported = sum(s.supported is True for s in checks)
    parts = [f"{supported}/{len(checks)} sentences supported" if checks else "not verified"]
    if answer.refused and answer.trace.get("refusal_reason"):
        parts = [f"refused: {markdown_text(answer.trace['refusal_reason'])}"]
    for key, label in (("pipeline_first_verified_s", "first verified sentence"), ("pipeline_ttft_s", "first token"),
                       ("total_s", "total")):
        value = answer.timings.get(key)
        if isinstance(value, float):
            parts.append(f"{label} {value:.1f} s")
    return " · ".join(parts)


_CARD_CSS = """<style>
.cairn-card{border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;margin:6px 0}
.cairn-card h4{margin:0 0 4px 0}.cairn-card .meta{color:#57606a;font-size:0.85em}
.cairn-card mark{background:#fff3b0;padding:0 2px}.cairn-card .passage{white-space:pre-wrap;font-size:0.9em}
</style>"""


def cards_html(cards: list[SourceCard]) -> str:
    """The cards as escaped HTML (id `source-n` each); a short line when there are none. Each
    piece of the passage is escaped on its own around the <mark>, so the highlight can never
    cut an entity or a tag of the text in two."""
    if not cards:
        return '<div class="cairn-cards"><em>No sources cited.</em></div>'
    blocks = []
    for card in cards:
        a, b = card.highlight
        passage = (html_text(card.passage[:a]) + "<mark>" + html_text(card.passage[a:b]) + "</mark>"
                   + html_text(card.passage[b:]))
        meta = " · ".join(x for x in (card.kind, card.year, card.facts, card.doc_id) if x)
        relevance = f" · support {card.relevance:.2f}" if card.relevance is not None else ""
        blocks.append(f'<div class="cairn-card" id="source-{card.n}"><h4>[{card.n}] {html_text(card.title)}</h4>'
                      f'<div class="meta">{html_text(meta)}{relevance}</div>'
                      f'<div class="passage">{passage}</div></div>')
    return _CARD_CSS + '<div class="cairn-cards">' + "".join(blocks) + "</div>"


def markers_of(text: str) -> list[int]:
    """The distinct [n] numbers in `text`, in order: the cards shown must be exactly these."""
    seen: dict[int, None] = {}
    for match in MARKER_RE.finditer(text):
        for n in parse_numbers(match.group(1)):
            seen.setdefault(n, None)
    return list(seen)


def form_filters(kind: str | None = None, year_from: float | None = None, year_to: float | None = None,
                 genre: str | None = None) -> dict[str, Any]:
    """The chat form's optional filter boxes as a filter dict (golden-set form); empty boxes
    add nothing (a number box left empty arrives as 0 from the page, and no catalog item is from
    year 0). Raises ValueError naming the boxes when the year range is upside down."""
    filters: dict[str, Any] = {}
    if kind and kind.strip() and kind.strip().lower() != "any":
        filters["type"] = kind.strip().lower()
    years = {op: int(v) for op, v in (("gte", year_from), ("lte", year_to)) if v not in (None, "", 0)}
    if len(years) == 2 and years["gte"] > years["lte"]:
        raise ValueError(f"year from {years['gte']} is after year to {years['lte']}; swap them or clear one")
    if years:
        filters["year"] = years
    if genre and genre.strip():
        filters["genres"] = [g.strip().lower() for g in genre.split(",") if g.strip()]
    return filters
