"""One browser session's chat, as plain functions the web page calls: ask (streamed), regenerate,
and 👍/👎 feedback on the last answer.

    chat_turn(agent, session, "comedies like Silicon Valley", "catalog")
        ─▶ (messages, retrieved sources' cards, "answering…", session) … while the reply is
           written (its text so far under the `flag` policy; under `remove` each sentence once
           verified, then a neutral line: chat_view.preview_markdown)
        ─▶ (messages, cited source cards HTML, "2/2 sentences supported · …", session)   last
        └─ the answered turn goes to the chat log (evals/grading/chatlog.py), where graders find it

The agent carries the asker's role (checked inside every tool), so these functions never
decide access themselves; `session.conversation` is the memory follow-ups are read against.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assistant.agent import Agent
from assistant.chat_stream import stream_ask
from assistant.chat_view import answer_markdown, answer_status, cards_html, form_filters, preview_markdown, \
    retrieved_cards, source_cards
from assistant.memory import Conversation
from assistant.render import answer_to_dict
from knowledge.audit import Accessor
from knowledge.errors import CairnError
from knowledge.safe_text import markdown_text

ChatOutput = tuple[list[dict[str, str]], str, str, "ChatSession"]


@dataclass
class ChatSession:
    """The messages shown, the memory the agent reads, and the last answered turn
    (question, collection, filters, role, model, answer dict, and its logged ChatTurn)."""

    messages: list[dict[str, str]] = field(default_factory=list)
    conversation: Conversation = field(default_factory=Conversation)
    last: dict[str, Any] | None = None


def chat_turn(agent: Agent, session: ChatSession | None, message: str, collection: str, kind: str | None = None,
              year_from: float | None = None, year_to: float | None = None, genre: str | None = None, *,
              user: str = "", log: bool = True) -> Iterator[ChatOutput]:
    """Answer `message` in `session`, streaming (module docstring). The filter boxes apply to
    catalog questions; `log=False` keeps the turn out of the chat log."""
    session = session or ChatSession()
    question = (message or "").strip()
    if not question:
        yield session.messages, "", "Type a question first.", session
        return
    try:
        filters = form_filters(kind, year_from, year_to, genre) if collection == "catalog" else {}
    except ValueError as exc:
        yield session.messages, "", f"**Filter error:** {markdown_text(exc)}", session
        return
    # The question is shown as Markdown too, and may be pasted from a document: escaped like one.
    session.messages = session.messages + [{"role": "user", "content": markdown_text(question)},
                                           {"role": "assistant", "content": ""}]
    # Who asks, for the audit log of note reads: the logged-in user, else (auth off) the OS user.
    accessor = Accessor.local("app:chat", role=agent.config.role, user=user or None)
    shown_cards = ""
    for update in stream_ask(agent, question, conversation=session.conversation, filters=filters,
                             accessor=accessor):
        if update.error is not None:
            session.messages[-1] = {"role": "assistant", "content": f"**Error:** {markdown_text(update.error)}"}
            yield session.messages, "", "failed", session
            return
        if update.answer is None:
            preview = preview_markdown(update.partial, agent.config.policy, update.verified)
            cards = cards_html(retrieved_cards(update.sources)) if update.sources else ""
            if preview != session.messages[-1]["content"] or cards != shown_cards:  # not once per token
                session.messages[-1] = {"role": "assistant", "content": preview}
                shown_cards = cards
                yield session.messages, cards, "answering…", session
            continue
        answer = update.answer
        model = str(getattr(agent.llm, "model_id", "") or "unknown")
        session.messages[-1] = {"role": "assistant", "content": answer_markdown(answer)}
        session.last = {"question": question, "collection": collection, "filters": filters,
                        "role": agent.config.role, "model": model, "answer": answer_to_dict(answer)}
        if log:
            _log_turn(session, answer, role=agent.config.role, user=user, model=model)
        yield session.messages, cards_html(source_cards(answer)), answer_status(answer), session


def regenerate(agent: Agent, session: ChatSession | None, collection: str, kind: str | None = None,
               year_from: float | None = None, year_to: float | None = None, genre: str | None = None, *,
               user: str = "", log: bool = True) -> Iterator[ChatOutput]:
    """Ask the last question again, replacing its answer (and its turn in the memory)."""
    if session is None or session.last is None:
        session = session or ChatSession()
        yield session.messages, "", "Nothing to regenerate yet.", session
        return
    question = session.last["question"]
    session.messages = session.messages[:-2]
    if session.conversation.turns:
        session.conversation.turns.pop()
    yield from chat_turn(agent, session, question, collection, kind, year_from, year_to, genre, user=user, log=log)


def reset_chat() -> ChatOutput:
    return [], "", "", ChatSession()


def chat_feedback(store: Any, role: str, user: str, session: ChatSession | None, thumb: str, reason: str = "") -> str:
    """Store 👍/👎 (with an optional reason) on the session's last answer in the grades
    database (`GradeStore`); the answer joins the grading queue."""
    from evals.grading.records import Feedback

    turn = (session.last or {}).get("turn") if session else None
    if turn is None:
        return "Ask a question first; feedback is about the last answer."
    try:
        store.add_feedback(Feedback(thumb=thumb, user=user, role=role, question=turn.question, answer=turn.answer,
                                    system=turn.model, collection=turn.collection, reason=(reason or "").strip(),
                                    cited_ids=turn.cited_ids, contexts=turn.sources, turn_id=turn.turn_id))
    except CairnError as exc:
        return f"**Error:** {markdown_text(exc)}"
    return f"Thanks — feedback ({'helpful' if thumb == 'up' else 'not helpful'}) saved."


def _log_turn(session: ChatSession, answer: Any, *, role: str, user: str, model: str) -> None:
    """Append the answered turn to the chat log and keep it for feedback on it."""
    from evals.grading.chatlog import ChatTurn, append_turn

    turn = ChatTurn.from_answer(session.last["question"], answer, role=role, model=model, user=user)
    append_turn(turn)
    session.last["turn"] = turn
