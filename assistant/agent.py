"""The agent: a question (+ the conversation) → route and typed plan → one tool call → a cited,
verified answer (DESIGN.md §3).

Protocol. Small local models choose tools and write tool arguments badly (DESIGN.md §6: the
0.5B/1.5B Qwen models invent filters, mangle dates and loop in free-form ReAct), so the model
is not asked to pick a tool. A deterministic router does, from a typed plan:

    question ─▶ understand()        route (catalog | notes | chitchat) + typed filters + "like X"
             ─▶ memory.resolve()    follow-ups read against the previous turn
             ─▶ role check          notes only for roles that may read them (assistant/roles.py)
             ─▶ route_tool()        exactly one structured ToolCall:
                    ordinal follow-up ("the second one")   → get_item(doc_id)
                    a known document id in the question    → get_item(doc_id) / extract_note(note_id)
                    "extract …" + a note id                → extract_note(note_id)
                    "X like <known title>"                 → similar_items(title, filters)
                    catalog                                → search_catalog(query, filters)
                    notes                                  → search_notes(query, filters)
             ─▶ the tool runs as a LangChain StructuredTool (ToolMessage + artifact)
             ─▶ answer_question()   the model writes [n]-cited sentences; the verifier checks them

The model's only free-form output is the answer text, and the verifier checks that. The tools
are ordinary LangChain tools (`Agent.langchain_tools()`), so a user serving a large model
through an OpenAI-compatible server can hand them to `langchain.agents.create_agent` instead.
`route_tool` is measured on the golden sets (tool-choice accuracy, `cairn bench assistant`).
"""
from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import StructuredTool

from assistant.answer import POLICIES, Answer, Policy, answer_question
from assistant.llm.base import ChatLLM
from assistant.memory import Conversation, Resolution, Turn
from assistant.query import QueryPlan, Vocabulary, understand
from assistant.roles import ACCESS_DENIED_TEXT, ROLES, Role, may_read
from assistant.tools import TOOL_MODULES
from assistant.transforms import TransformConfig
from assistant.tools.base import ACCESSOR_KEY, FIRST_PASS_KEY, ToolContext, ToolResult, as_langchain_tool
from assistant.tools.get_item import collection_of as get_item_collection
from assistant.verify import VerifierConfig
from knowledge.audit import Accessor
from knowledge.config import RETRIEVAL_MODES
from knowledge.errors import CairnError
from knowledge.index import KnowledgeBase
from knowledge.types import Chunk, Hit

CHITCHAT_TEXT = ("Hello! I answer questions about the catalog{notes} from its sources, and cite them. "
                 "Try: \"documentaries about climate change from the last year\".")
_EXTRACT_CUE = re.compile(r"\b(?:extract|structured|all (?:the )?fields|fill (?:in|out))\b", re.IGNORECASE)
_DOC_ID = re.compile(r"\b[A-Za-z]+_\d+\b")


class AgentError(CairnError):
    """A bad agent setting; the message names it and the fix."""


@dataclass(frozen=True)
class AgentConfig:
    """Fields:
        role: the caller's role; decides which collections may be searched.
        collection: a hint for questions that name no collection ("catalog" | "notes" | None).
        k_catalog / k_notes: how many sources go to the answer model (items / note sections).
        mode: retrieval mode, "hybrid" | "dense" | "bm25".
        verify / policy: run the citation verifier; "remove" or "flag" unsupported sentences.
        max_tokens: cap on the answer (short answers: the CPU decodes ~15-20 tokens/s).
        history_turns: earlier exchanges sent to the answer model.
        today: the date relative phrases ("last year") resolve against; None: the real today.
        transforms: multi-query / HyDE config (assistant/transforms.py); None: off. The default
            is HyDE behind the weak-evidence gate, multi-query off: the golden-set ablation
            (TransformConfig's docstring) found HyDE helps a little and multi-query does not.
        verifier: the verifier's settings; None: its defaults.
        context_tokens: per-source budget of text tokens the answer model reads, the sentences
            most relevant to the question (assistant/context.py); None (default): every source
            whole. Measured with 80 (and judge_evidence_tokens=48) on 30 catalog_qa cases: prompts
            -15% (-125 tokens evaluated, CI [-162, -90]) but 3 answerable questions more refused
            (refusal accuracy 0.833 -> 0.733, paired CI [-0.200, 0.000]): word overlap with the
            question dropped the sentence that answered ("Where is it set?" -> "postwar Vienna").
    """

    role: Role = "user"
    collection: str | None = None
    k_catalog: int = 5
    k_notes: int = 6
    mode: str = "hybrid"
    verify: bool = True
    policy: Policy = "remove"
    max_tokens: int | None = 256
    history_turns: int = 3
    today: dt.date | None = None
    transforms: TransformConfig | None = field(default_factory=TransformConfig)
    verifier: VerifierConfig | None = None
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise AgentError(f"role={self.role!r} is unknown; use one of {', '.join(ROLES)}")
        if self.collection not in (None, "catalog", "notes"):
            raise AgentError(f"collection={self.collection!r} is unknown; use 'catalog', 'notes' or leave it out")
        for name in ("k_catalog", "k_notes"):
            if not 1 <= getattr(self, name) <= 20:
                raise AgentError(f"{name}={getattr(self, name)} must be in 1..20 (sources the model reads)")
        if self.mode not in RETRIEVAL_MODES:
            raise AgentError(f"mode={self.mode!r} is unknown; use one of {', '.join(RETRIEVAL_MODES)}")
        if self.policy not in POLICIES:
            raise AgentError(f"policy={self.policy!r} is unknown; use one of {', '.join(POLICIES)}")
        if self.history_turns < 0:
            raise AgentError(f"history_turns={self.history_turns} must be >= 0")
        if self.context_tokens is not None and self.context_tokens < 16:
            raise AgentError(f"context_tokens={self.context_tokens} must be >= 16 (a sentence or two per source), "
                             "or None to show every source whole")


@dataclass(frozen=True)
class ToolCall:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """The router's decision for one question, before anything is retrieved."""

    plan: QueryPlan
    resolution: Resolution
    call: ToolCall | None  # None: chit-chat or access denied
    denied: bool = False


def route_tool(plan: QueryPlan, resolution: Resolution, *, k_catalog: int = 5, k_notes: int = 6,
               known_ids: Callable[[str], str | None] = lambda token: None) -> ToolCall | None:
    """The one tool call for a resolved plan (module docstring). Pure given `known_ids`, which
    maps a token of the question to its collection when it is a known document id."""
    if plan.route == "chitchat":
        return None
    if resolution.kind == "ordinal" and resolution.pick:
        return ToolCall("get_item", {"doc_id": resolution.pick})
    for token in _DOC_ID.findall(plan.question):
        collection = known_ids(token)
        if collection == "notes" and _EXTRACT_CUE.search(plan.question):
            return ToolCall("extract_note", {"note_id": token})
        if collection is not None:
            return ToolCall("get_item", {"doc_id": token, "collection": collection})
    filters = dict(plan.filters)
    if plan.route == "notes":
        return ToolCall("search_notes", {"query": plan.query, "filters": filters, "k": k_notes})
    if plan.similar_to:
        return ToolCall("similar_items", {"title": plan.similar_to, "filters": filters, "k": k_catalog})
    return ToolCall("search_catalog", {"query": plan.query, "filters": filters, "k": k_catalog})


@dataclass
class Agent:
    """One assistant bound to a model, a role and the indexes. `ask` is all a UI needs."""

    llm: ChatLLM
    config: AgentConfig = field(default_factory=AgentConfig)
    open_kb: Callable[[str], KnowledgeBase] | None = None
    _kbs: dict[str, KnowledgeBase] = field(default_factory=dict, init=False, repr=False)
    _vocabulary: Vocabulary | None = field(default=None, init=False, repr=False)
    _tools: dict[str, StructuredTool] | None = field(default=None, init=False, repr=False)

    # --- wiring -------------------------------------------------------------------------------
    def kb(self, collection: str) -> KnowledgeBase:
        if collection not in self._kbs:
            self._kbs[collection] = (self.open_kb or KnowledgeBase)(collection)
        return self._kbs[collection]

    def context(self) -> ToolContext:
        return ToolContext(role=self.config.role, open_kb=self.kb, llm=self.llm, mode=self.config.mode,
                           transforms=self.config.transforms)

    @property
    def today(self) -> dt.date:
        return self.config.today or dt.date.today()

    def langchain_tools(self) -> dict[str, StructuredTool]:
        """The tools this role may use, as LangChain StructuredTools (built once: the config is frozen)."""
        if self._tools is None:
            ctx = self.context()
            self._tools = {m.NAME: as_langchain_tool(m, ctx) for m in TOOL_MODULES
                           if m.COLLECTION != "notes" or may_read(self.config.role, "notes")}
        return self._tools

    def vocabulary(self) -> Vocabulary | None:
        """What the readable collections contain (titles, genres, patient ids…), for the parser."""
        if self._vocabulary is None:
            parts = []
            for collection in ("catalog", "notes"):
                if may_read(self.config.role, collection) and self.kb(collection).store.has_documents():
                    parts.append(Vocabulary.from_knowledge_base(self.kb(collection)))
            vocab = parts[0] if parts else None
            for extra in parts[1:]:
                vocab = vocab | extra
            self._vocabulary = vocab
        return self._vocabulary

    def _known_id(self, token: str) -> str | None:
        if get_item_collection(token) == "notes" and not may_read(self.config.role, "notes"):
            return "notes"  # looks like a note id: denied below, without looking it up (no existence leak)
        for collection in ("catalog", "notes"):
            if may_read(self.config.role, collection) and self.kb(collection).store.get_document(token) is not None:
                return collection
        return None

    # --- the protocol -------------------------------------------------------------------------
    def route(self, question: str, conversation: Conversation | None = None,
              filters: Mapping[str, Any] | None = None) -> Step:
        """`filters` (golden-set dict form, e.g. from a UI's filter boxes) override what the
        parser read from the question, field by field, on catalog searches."""
        hint = self.config.collection
        plan = understand(question, today=self.today, collection_hint=hint, vocabulary=self.vocabulary())
        resolution = (conversation or Conversation()).resolve(plan)
        plan = resolution.plan
        if filters and plan.route == "catalog":
            plan = replace(plan, filters={**plan.filters, **filters})
        if plan.route == "notes" and not may_read(self.config.role, "notes"):
            return Step(plan, resolution, None, denied=True)
        call = route_tool(plan, resolution, k_catalog=self.config.k_catalog, k_notes=self.config.k_notes,
                          known_ids=self._known_id)
        if call is not None and _collection_of(call) != plan.route:
            plan = replace(plan, route=_collection_of(call))  # "extract the fields of note_0042": a notes question
        if plan.route == "notes" and not may_read(self.config.role, "notes"):
            return Step(plan, resolution, None, denied=True)
        return Step(plan, resolution, call)

    def ask(self, question: str, *, conversation: Conversation | None = None,
            stream_callback: Callable[[str], None] | None = None,
            filters: Mapping[str, Any] | None = None, accessor: Accessor | None = None,
            on_sources: Callable[[list[Chunk]], None] | None = None,
            on_sentence: Callable[[str], None] | None = None) -> Answer:
        """Answer one question; `conversation` (if given) is read for follow-ups and extended;
        `filters` as in `route`; `accessor`: who asks, for the audit log of note reads (default:
        the OS user in the configured role). Streaming, three ways: `stream_callback` gets the
        model's raw reply piece by piece (unverified); `on_sources` the numbered sources once
        retrieved, before the model writes (the first pass first when a query transform runs,
        then the final list); `on_sentence` each sentence once verified, as it
        will be shown (answer_question), or a reply that needs no verifying in one piece."""
        started = time.perf_counter()
        first_token: list[float] = []
        released: list[float] = []

        def on_piece(piece: str) -> None:
            if not first_token:
                first_token.append(time.perf_counter() - started)
            if stream_callback is not None:
                stream_callback(piece)

        def on_verified(text: str) -> None:
            if not released:
                released.append(time.perf_counter() - started)
            if on_sentence is not None:
                on_sentence(text)

        step = self.route(question, conversation, filters)
        timings: dict[str, float | None] = {"route_s": time.perf_counter() - started}
        trace: dict[str, Any] = {"plan": _plan_trace(step.plan), "resolution": step.resolution.kind,
                                 "role": self.config.role}
        if step.call is None:
            text = ACCESS_DENIED_TEXT if step.denied else CHITCHAT_TEXT.format(
                notes=" and clinical notes" if may_read(self.config.role, "notes") else "")
            on_piece(text)
            answer = Answer(text, [], [], [], step.denied, {**trace, "tool": None,
                                                            "refusal_reason": "role" if step.denied else None}, {})
        else:
            def show_sources(hits: list[Hit]) -> None:  # the first pass before a transform, then the final
                timings.setdefault("sources_s", time.perf_counter() - started)
                if on_sources is not None:
                    on_sources([hit.chunk for hit in hits])

            result, message = self._call(step.call, accessor, show_sources)
            trace["tool"] = {"name": step.call.name, "args": step.call.args, "trace": result.trace,
                             "message": message.content}
            timings.update(result.timings)
            show_sources(result.hits)
            answer = self._answer(question, step, result, conversation, on_piece, on_verified)
            trace.update(answer.trace)
            timings.update({k: v for k, v in answer.timings.items() if k not in ("total_s", "first_verified_s")})
        if not released and answer.text:  # chitchat, a refusal, an extraction: shown whole, at the end
            on_verified(answer.text)
        timings["pipeline_ttft_s"] = first_token[0] if first_token else None
        timings["pipeline_first_verified_s"] = released[0] if released else None
        timings["total_s"] = time.perf_counter() - started
        answer = replace(answer, trace=trace, timings=timings)
        if conversation is not None:
            sources = tuple(dict.fromkeys(c.doc_id for c in answer.chunks))
            conversation.add(Turn(question, step.plan, answer.text, sources, answer.refused))
        return answer

    def _call(self, call: ToolCall, accessor: Accessor | None = None,
              on_first_pass: Callable[[list[Hit]], None] | None = None) -> tuple[ToolResult, ToolMessage]:
        tool = self.langchain_tools()[call.name]
        per_call = {key: value for key, value in ((ACCESSOR_KEY, accessor), (FIRST_PASS_KEY, on_first_pass))
                    if value is not None}
        config = {"configurable": per_call} if per_call else None
        message = tool.invoke({"name": call.name, "args": call.args, "id": f"call_{call.name}", "type": "tool_call"},
                              config=config)
        return message.artifact, message

    def _answer(self, question: str, step: Step, result: ToolResult, conversation: Conversation | None,
                on_piece: Callable[[str], None], on_sentence: Callable[[str], None]) -> Answer:
        if step.call is not None and step.call.name == "extract_note":
            from assistant.tools.extract_note import extraction_answer  # the answer IS the extraction

            return extraction_answer(result, on_piece)
        history = conversation.history(self.config.history_turns) if conversation else []
        embedder = self.kb(step.plan.route).embedder if result.hits else None
        answer = answer_question(self.llm, question, result.hits, history=history, verify=self.config.verify,
                                 policy=self.config.policy, stream_callback=on_piece,
                                 config=self.config.verifier, embedder=embedder, max_tokens=self.config.max_tokens,
                                 on_sentence=_after(result.note, on_sentence),
                                 context_tokens=self.config.context_tokens)
        if result.note and not answer.refused:
            answer = replace(answer, text=f"{result.note} {answer.text}")
        return answer

    def close(self) -> None:
        for kb in self._kbs.values():
            kb.close()
        self._kbs.clear()


def _after(note: str, on_sentence: Callable[[str], None]) -> Callable[[str], None]:
    """`on_sentence`, with the tool's `note` (shown before the answer) released first."""
    pending = [note] if note else []

    def release(text: str) -> None:
        while pending:
            on_sentence(pending.pop())
        on_sentence(text)

    return release


def _collection_of(call: ToolCall) -> str:
    if call.name in ("search_notes", "extract_note"):
        return "notes"
    if call.name == "get_item":
        return call.args.get("collection") or get_item_collection(call.args["doc_id"])
    return "catalog"


def _plan_trace(plan: QueryPlan) -> Mapping[str, Any]:
    return {"route": plan.route, "filters": plan.filters, "query": plan.query, "lookup": plan.lookup,
            "similar_to": plan.similar_to,
            "spans": [{"phrase": s.phrase, "span": list(s.span), "became": s.became} for s in plan.spans]}
