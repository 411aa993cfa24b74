"""The Gradio app: a thin shell over `assistant/`, `knowledge/` and `evals/` (chat, grading,
evals dashboard, knowledge admin), served by `cairn serve` on 127.0.0.1:7860.

Every handler is a plain module-level function taking the shared `Services` and the caller's
role first, so tests call it directly with a scripted model; `build_demo` only lays out the
page and binds each handler to its components under an `api_name` (usable from
`gradio_client`). Permissions are checked inside the functions the handlers call, never by
hiding buttons alone: a request that reaches a handler with the wrong role gets an error.

(No `from __future__ import annotations` in this file: Gradio recognises the `gr.Request`
parameter of a handler by its evaluated annotation; as a string it would be taken for an input.)
"""

import argparse
import html
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from knowledge.errors import CairnError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class AppError(CairnError):
    """A bad app setting or request; the message names it and the fix."""


@dataclass(frozen=True)
class AppConfig:
    """Settings of one served app.

    Fields:
        local_role: the role of the single local user when no users are configured (auth off).
        policy: what the chat does with unsupported sentences: "remove" drops them (and the
            reply is not shown until it is verified), "flag" shows them marked (and previews
            the reply as it is written). "remove" by default, as in `cairn ask`: an
            unsupported sentence is the model's, not the sources'.
        llm: the answer model's settings (None: the default model, offline).
        max_tokens: cap on each answer's length.
    """

    local_role: str = "admin"
    policy: str = "remove"
    llm: Any = None
    max_tokens: int = 256

    def __post_init__(self) -> None:
        from assistant.answer import POLICIES
        from assistant.roles import check_role

        check_role(self.local_role)
        if self.policy not in POLICIES:
            raise AppError(f"policy {self.policy!r} is unknown; use one of {', '.join(POLICIES)}")
        if self.max_tokens < 16:
            raise AppError(f"max_tokens={self.max_tokens} is too small for an answer; use 16 or more")


@dataclass
class Services:
    """What every session shares: one answer model (loaded on first use), one index per
    collection, and the config. Tests pass a scripted `llm` and their own `open_kb`."""

    config: AppConfig = field(default_factory=AppConfig)
    llm: Any = None
    open_kb: Callable[[str], Any] | None = None
    _kbs: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _agents: dict[tuple[str, str | None], Any] = field(default_factory=dict, init=False, repr=False)
    _grades: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def model(self):
        with self._lock:
            if self.llm is None:
                from assistant.llm.config import LLMConfig, load_llm

                self.llm = load_llm(self.config.llm or LLMConfig())
            return self.llm

    def kb(self, collection: str):
        with self._lock:
            if collection not in self._kbs:
                if self.open_kb is not None:
                    self._kbs[collection] = self.open_kb(collection)
                else:
                    from knowledge.index import KnowledgeBase

                    self._kbs[collection] = KnowledgeBase(collection)
            return self._kbs[collection]

    def agent(self, role: str, collection: str | None):
        """One agent per (role, collection), kept so its vocabulary of titles and genres is
        read once; `knowledge_changed` drops them after an ingest or delete."""
        from assistant.agent import Agent, AgentConfig

        llm = self.model()
        with self._lock:
            key = (role, collection)
            if key not in self._agents:
                config = AgentConfig(role=role, collection=collection, policy=self.config.policy,
                                     max_tokens=self.config.max_tokens)
                self._agents[key] = Agent(llm, config, open_kb=self.kb)
            return self._agents[key]

    def grades(self):
        """The grades database ($CAIRN_HOME/grades.sqlite, WAL), opened once."""
        with self._lock:
            if self._grades is None:
                from evals.grading.store import GradeStore

                self._grades = GradeStore()
            return self._grades

    def knowledge_changed(self) -> None:
        with self._lock:
            self._agents.clear()


# --- search (the knowledge base without the model) ----------------------------------------------

def search_handler(services: Services, role: str, query: str, collection: str, mode: str, filters: str,
                   user: str = "") -> str:
    """Markdown list of hits for the search box (filters: one FIELD OP VALUE per line); every
    text of a hit is escaped (knowledge/safe_text.py). Notes shown are logged first, under
    `user` ("" = the local user) (knowledge/audit.py)."""
    from assistant.roles import require
    from knowledge.audit import Accessor, record_chunks
    from knowledge.filters import parse_filters
    from knowledge.retrieve import search
    from knowledge.safe_text import markdown_code, markdown_text

    try:
        require(role, collection)
        exprs = [line.strip() for line in (filters or "").splitlines() if line.strip()]
        result = search(services.kb(collection), query, mode=mode, filters=parse_filters(exprs, collection), k=10)
        record_chunks(Accessor.local("app:search", role=role, user=user or None), "search", collection,
                      [hit.chunk for hit in result.hits], query)
    except CairnError as exc:
        return _error(exc)
    if not result.hits:
        return "No results."
    rows = []
    for rank, hit in enumerate(result.hits, 1):
        meta = hit.chunk.metadata
        title = meta.get("title") or meta.get("note_type") or hit.doc_id
        rows.append(f"{rank}. **{markdown_text(title)}** {markdown_code(hit.doc_id)} — "
                    f"{markdown_text(' '.join(hit.chunk.text.split())[:240])}")
    return "\n".join(rows)


# --- knowledge (admin) --------------------------------------------------------------------------

def knowledge_ingest(services: Services, role: str, files: list | None, collection: str,
                     progress: Callable[[float, str], None] | None = None) -> tuple[list, list, str]:
    """Ingest uploaded files: (per-file rows, skipped-line rows, summary). Admin only."""
    from knowledge.admin import ingest_uploads

    paths = [getattr(f, "name", f) for f in files or []]
    try:
        report = ingest_uploads(role, collection, paths, progress=progress, kb=_admin_kb(services, role, collection))
    except CairnError as exc:
        return [], [], _error(exc)
    services.knowledge_changed()
    return report.to_rows(), report.skipped_rows(), report.to_markdown()


def knowledge_delete(services: Services, role: str, collection: str, ids: str) -> str:
    """Delete documents by id (comma, space or newline separated). Admin only."""
    from knowledge.admin import delete_documents

    doc_ids = [t for t in ids.replace(",", " ").split() if t]
    try:
        result = delete_documents(role, collection, doc_ids, kb=_admin_kb(services, role, collection))
    except CairnError as exc:
        return _error(exc)
    services.knowledge_changed()
    return result.to_markdown()


def knowledge_documents(services: Services, role: str, collection: str, query: str) -> tuple[list, str]:
    from knowledge.admin import list_documents

    try:
        listing = list_documents(role, collection, query or "", kb=_admin_kb(services, role, collection))
    except CairnError as exc:
        return [], _error(exc)
    return listing.to_rows(), listing.caption()


def knowledge_stats(services: Services, role: str, collection: str) -> tuple[list, list]:
    from knowledge.admin import index_statistics

    try:
        stats = index_statistics(role, collection, kb=_admin_kb(services, role, collection))
    except CairnError as exc:
        return [["error", str(exc)]], []
    return stats.to_rows(), stats.source_rows()


def _error(exc: Exception) -> str:
    """An error line for a Markdown output; its message may quote a document, a question or the
    model, so it is escaped like them (knowledge/safe_text.py)."""
    from knowledge.safe_text import markdown_text

    return f"**Error:** {markdown_text(exc)}"


def _admin_kb(services: Services, role: str, collection: str):
    """The shared index, opened only for an admin (the admin functions check the role again and
    refuse the rest before touching anything): None for everyone else."""
    from assistant.roles import ROLES, can_admin

    return services.kb(collection) if role in ROLES and can_admin(role) else None


# --- the page ----------------------------------------------------------------------------------

LOCAL_USER = "local"  # the grader name of the single local user when auth is off


def identity(services: Services, request: Any) -> tuple[str, str]:
    """(role, user name) of a request: the logged-in user's role and stored name (not the name as
    typed at the login, which may differ in case), or the local role and LOCAL_USER."""
    from assistant.users import get_user

    username = getattr(request, "username", None) if request is not None else None
    user = get_user(username) if username else None
    return role_of(services, request), user.name if user else LOCAL_USER


def _guard(call: Callable[[], Any], on_error: Any) -> Any:
    """`call()`, or on a CairnError (a role refused, a bad run id) `on_error(exc)` or `on_error`."""
    try:
        return call()
    except CairnError as exc:
        return on_error(exc) if callable(on_error) else on_error


def _named(user: str) -> str:
    """The user name recorded with chat turns and feedback: "" for the local user (no login)."""
    return "" if user == LOCAL_USER else user


def role_of(services: Services, request: Any) -> str:
    """The role a request carries: the logged-in user's, or the local role when auth is off."""
    from assistant.users import auth_configured, get_user

    username = getattr(request, "username", None) if request is not None else None
    if username:
        user = get_user(username)
        if user is None:
            raise AppError(f"user {username!r} is no longer registered; ask an admin (`cairn users list`)")
        return user.role
    if auth_configured():
        raise AppError("this server requires a login; reload the page and sign in")
    return services.config.local_role


def build_demo(services: Services | None = None):
    import gradio as gr

    from assistant.audit_view import HEADERS as AUDIT_HEADERS
    from assistant.audit_view import audit_view
    from assistant.chat_session import ChatSession, chat_feedback, chat_turn, regenerate, reset_chat
    from assistant.roles import can_admin, can_grade, may_read
    from evals.grading.chatlog import chat_log_path
    from evals.grading.views import grading_load, grading_queue, grading_submit, pairwise_next, pairwise_submit
    from evals import dashboard
    from knowledge.admin import UploadReport
    from knowledge.safe_text import markdown_text

    services = services or Services()

    def who(request: gr.Request) -> str:
        return role_of(services, request)

    def on_chat(message, session, collection, kind, year_from, year_to, genre, request: gr.Request):
        role, user = identity(services, request)
        yield from chat_turn(services.agent(role, collection), session, message, collection, kind, year_from,
                             year_to, genre, user=_named(user))

    def on_regenerate(session, collection, kind, year_from, year_to, genre, request: gr.Request):
        role, user = identity(services, request)
        yield from regenerate(services.agent(role, collection), session, collection, kind, year_from, year_to,
                              genre, user=_named(user))

    def on_feedback(thumb):
        def handler(session, reason, request: gr.Request):
            role, user = identity(services, request)
            return chat_feedback(services.grades(), role, _named(user), session, thumb, reason)
        return handler

    def on_queue(request: gr.Request):
        return grading_queue(services.grades(), *identity(services, request), chat_log=chat_log_path())

    def on_grade_load(item_id, request: gr.Request):
        return grading_load(services.grades(), *identity(services, request), item_id)

    def on_grade(item_id, relevance, accuracy, completeness, clarity, overall, comment, corrected,
                 request: gr.Request):
        return grading_submit(services.grades(), *identity(services, request), item_id, relevance, accuracy,
                              completeness, clarity, overall, comment, corrected)

    def on_pair(request: gr.Request):
        return pairwise_next(services.grades(), *identity(services, request))

    def on_runs(request: gr.Request):
        return _guard(lambda: dashboard.nightly_runs(who(request)), [])

    def on_report(run_id, request: gr.Request):
        return _guard(lambda: dashboard.nightly_report(who(request), (run_id or "").strip() or None),
                      lambda exc: f"<p><strong>Error:</strong> {html.escape(str(exc))}</p>")

    def on_eval_runs(request: gr.Request):
        folders = _guard(lambda: dashboard.eval_runs(who(request)), [])
        return gr.update(choices=folders, value=folders[0] if folders else None)

    def on_cases(folder, request: gr.Request):
        if not folder:
            return [], "Pick a run first."
        return _guard(lambda: dashboard.run_cases(who(request), folder), lambda exc: ([], _error(exc)))

    def on_case(folder, key, request: gr.Request):
        role, user = identity(services, request)
        return _guard(lambda: dashboard.case_detail(role, folder or "", (key or "").strip(), user=_named(user) or None),
                      _error)

    def on_case_row(evt: gr.SelectData):
        row = evt.row_value if isinstance(evt.row_value, list) else None
        return row[0] if row else gr.update()

    def on_agreement(request: gr.Request):
        return _guard(lambda: dashboard.judge_agreement(who(request), services.grades()),
                      lambda exc: ([], _error(exc)))

    def on_pick(pick):
        def handler(pair, comment, request: gr.Request):
            return pairwise_submit(services.grades(), *identity(services, request), pair, pick, comment)
        return handler

    def on_search(query, collection, mode, filters, request: gr.Request):
        role, user = identity(services, request)
        return search_handler(services, role, query, collection, mode, filters, user=_named(user))

    def on_audit(user, patient, doc, since, until, request: gr.Request):
        filters = {"user": user, "patient": patient, "doc": doc, "since": since, "until": until}
        return audit_view(who(request), filters)

    def on_load(request: gr.Request):
        role = who(request)
        choices = [c for c in ("catalog", "notes") if may_read(role, c)]
        name = getattr(request, "username", None) or "local user"
        return (gr.update(choices=choices, value="catalog"), f"Signed in as **{markdown_text(name)}** ({role})",
                gr.update(visible=can_grade(role)), gr.update(visible=can_grade(role)),
                gr.update(visible=can_admin(role)))

    with gr.Blocks(title="cairn") as demo:
        with gr.Row():
            gr.Markdown("# cairn\nLocal, private answers over the catalog and clinical notes, with verified citations.")
            signed_in = gr.Markdown()
        with gr.Tab("Chat"):
            session = gr.State(ChatSession())
            with gr.Row():
                collection = gr.Radio(["catalog", "notes"], value="catalog", label="Collection")
                kind = gr.Dropdown(["any", "film", "series", "documentary", "podcast", "article"], value="any",
                                   label="Type")
                year_from = gr.Number(None, label="Year from (0 = any)", precision=0)
                year_to = gr.Number(None, label="Year to (0 = any)", precision=0)
                genre = gr.Textbox(label="Genres (comma-separated)")
            chatbot = gr.Chatbot(label="cairn", height=420, elem_id="chatbot")
            with gr.Row():
                message = gr.Textbox(label="Question", placeholder="documentaries about climate change from last year",
                                     scale=5, elem_id="question")
                send = gr.Button("Ask", variant="primary", scale=1)
            with gr.Row():
                regen = gr.Button("Regenerate")
                clear = gr.Button("New conversation")
            status = gr.Markdown(elem_id="status")
            cards = gr.HTML(elem_id="source-cards")
            with gr.Row():
                thumbs_up = gr.Button("Helpful", size="sm")
                thumbs_down = gr.Button("Not helpful", size="sm")
                reason = gr.Textbox(label="Why? (optional)", scale=3)
            feedback_status = gr.Markdown()
            thumbs_up.click(on_feedback("up"), [session, reason], feedback_status, api_name="feedback_up")
            thumbs_down.click(on_feedback("down"), [session, reason], feedback_status, api_name="feedback_down")
            chat_inputs = [message, session, collection, kind, year_from, year_to, genre]
            chat_outputs = [chatbot, cards, status, session]
            message.submit(on_chat, chat_inputs, chat_outputs, api_name="chat").then(lambda: "", None, message)
            send.click(on_chat, chat_inputs, chat_outputs, api_name=False).then(lambda: "", None, message)
            regen.click(on_regenerate, chat_inputs[1:], chat_outputs, api_name="regenerate")
            clear.click(reset_chat, None, chat_outputs, api_name="reset")
        with gr.Tab("Grading") as grading_tab:
            gr.Markdown("Grade answers from chats and eval runs (experts and admins). You never see which "
                        "model wrote an answer.")
            with gr.Row():
                g_refresh = gr.Button("Refresh queue")
                g_count = gr.Markdown()
            g_queue = gr.Dataframe(headers=["id", "collection", "origin", "question"], label="Queue",
                                   interactive=False)
            with gr.Row():
                g_item = gr.Number(None, label="Answer # (empty: next in queue)", precision=0)
                g_load = gr.Button("Load answer")
            g_shown = gr.Markdown(elem_id="grade-item")
            with gr.Accordion("Sources shown to the model", open=False):
                g_sources = gr.Markdown()
            with gr.Row():
                scores = [gr.Slider(1, 5, value=3, step=1, label=name.capitalize())
                          for name in ("relevance", "accuracy", "completeness", "clarity", "overall")]
            g_comment = gr.Textbox(label="Comment")
            g_corrected = gr.Textbox(label="Corrected answer (optional; becomes a golden answer and a "
                                           "preference pair)", lines=4)
            g_submit = gr.Button("Submit grade", variant="primary")
            g_status = gr.Markdown(elem_id="grade-status")
            g_refresh.click(on_queue, None, [g_queue, g_count], api_name="grading_queue")
            g_load.click(on_grade_load, [g_item], [g_item, g_shown, g_sources], api_name="grading_load")
            g_submit.click(on_grade, [g_item, *scores, g_comment, g_corrected], g_status, api_name="grade")
            gr.Markdown("### Blind pairwise comparison")
            pair_state = gr.State(None)
            p_next = gr.Button("Next pair")
            p_question = gr.Markdown(elem_id="pair-question")
            with gr.Row():
                p_a = gr.Textbox(label="Answer A", lines=6, interactive=False, elem_id="answer-a")
                p_b = gr.Textbox(label="Answer B", lines=6, interactive=False, elem_id="answer-b")
            p_comment = gr.Textbox(label="Comment (optional)")
            with gr.Row():
                pick_a = gr.Button("A is better")
                pick_tie = gr.Button("Tie")
                pick_b = gr.Button("B is better")
            p_status = gr.Markdown(elem_id="pair-status")
            p_next.click(on_pair, None, [pair_state, p_question, p_a, p_b], api_name="pair_next")
            for button, pick in ((pick_a, "a"), (pick_tie, "tie"), (pick_b, "b")):
                button.click(on_pick(pick), [pair_state, p_comment], p_status, api_name=f"pair_pick_{pick}")
        with gr.Tab("Evals") as evals_tab:
            gr.Markdown("Nightly runs, their report, every case of any eval run, and how the LLM judge agrees "
                        "with expert grades (experts and admins).")
            with gr.Row():
                e_runs_btn = gr.Button("Refresh nightly runs")
                e_run_id = gr.Textbox(label="Run id (empty: latest)")
                e_report_btn = gr.Button("Show report", variant="primary")
            e_runs = gr.Dataframe(headers=list(dashboard.RUN_HEADERS), label="Nightly runs", interactive=False)
            e_report = gr.HTML(elem_id="nightly-report")
            gr.Markdown("### Run browser")
            with gr.Row():
                e_folder = gr.Dropdown([], label="Eval run", allow_custom_value=True, scale=3)
                e_folders_btn = gr.Button("Refresh")
                e_cases_btn = gr.Button("Load cases")
            e_caption = gr.Markdown()
            e_cases = gr.Dataframe(headers=list(dashboard.CASE_HEADERS), label="Cases (click a row)",
                                   interactive=False, wrap=True)
            with gr.Row():
                e_key = gr.Textbox(label="Case key", scale=3)
                e_case_btn = gr.Button("Show case")
            e_case = gr.Markdown()
            gr.Markdown("### Judge vs expert agreement")
            e_agree_btn = gr.Button("Compute agreement")
            e_agree_caption = gr.Markdown()
            e_agree = gr.Dataframe(headers=["criterion", "n", "abstained", "exact", "±1", "κ", "quadratic κ",
                                            "Spearman ρ"], interactive=False)
            e_runs_btn.click(on_runs, None, e_runs, api_name="nightly_runs")
            e_report_btn.click(on_report, [e_run_id], e_report, api_name="nightly_report")
            e_folders_btn.click(on_eval_runs, None, e_folder, api_name="eval_runs")
            e_cases_btn.click(on_cases, [e_folder], [e_cases, e_caption], api_name="eval_cases")
            e_cases.select(on_case_row, None, e_key, api_name=False)
            e_case_btn.click(on_case, [e_folder, e_key], e_case, api_name="eval_case")
            e_agree_btn.click(on_agreement, None, [e_agree, e_agree_caption], api_name="judge_agreement")
        with gr.Tab("Search"):
            with gr.Row():
                query = gr.Textbox(label="Search", placeholder="documentaries about climate change", scale=4)
                search_collection = gr.Dropdown(["catalog", "notes"], value="catalog", label="Collection")
                mode = gr.Dropdown(["hybrid", "dense", "bm25"], value="hybrid", label="Retrieval")
            filters = gr.Textbox(label="Filters (one per line, e.g. year>=2020)", lines=2)
            output = gr.Markdown(elem_id="search-results")
            query.submit(on_search, [query, search_collection, mode, filters], output, api_name="search")
        with gr.Tab("Knowledge") as knowledge_tab:
            gr.Markdown("Upload catalog files (.jsonl, .json, .csv) or clinical notes (.jsonl, .txt, .md). "
                        "Admins only.")
            with gr.Row():
                k_collection = gr.Radio(["catalog", "notes"], value="catalog", label="Collection")
                k_files = gr.File(file_count="multiple", label="Files", type="filepath")
            k_ingest = gr.Button("Ingest", variant="primary")
            k_summary = gr.Markdown()
            k_results = gr.Dataframe(headers=list(UploadReport.HEADERS), label="Per-file results", interactive=False)
            k_skipped = gr.Dataframe(headers=["file", "line", "reason"], label="Skipped lines", interactive=False)
            with gr.Row():
                k_query = gr.Textbox(label="Find documents (id, title, genre, patient…)")
                k_find = gr.Button("Find")
            k_caption = gr.Markdown()
            k_docs = gr.Dataframe(headers=["id", "title", "file", "line", "chunks", "indexed at"],
                                  label="Documents", interactive=False)
            with gr.Row():
                k_ids = gr.Textbox(label="Delete documents (ids)")
                k_delete = gr.Button("Delete", variant="stop")
            k_deleted = gr.Markdown()
            k_refresh = gr.Button("Index statistics")
            with gr.Row():
                k_stats = gr.Dataframe(headers=["statistic", "value"], label="Index", interactive=False)
                k_sources = gr.Dataframe(headers=["file", "documents"], label="Files", interactive=False)

            def on_ingest(files, coll, request: gr.Request, progress=gr.Progress()):
                return knowledge_ingest(services, who(request), files, coll,
                                        progress=lambda f, m: progress(f, desc=m))

            def on_documents(coll, q, request: gr.Request):
                return knowledge_documents(services, who(request), coll, q)

            def on_delete(coll, ids, request: gr.Request):
                return knowledge_delete(services, who(request), coll, ids)

            def on_stats(coll, request: gr.Request):
                return knowledge_stats(services, who(request), coll)

            k_ingest.click(on_ingest, [k_files, k_collection], [k_results, k_skipped, k_summary], api_name="ingest")
            k_find.click(on_documents, [k_collection, k_query], [k_docs, k_caption], api_name="documents")
            k_delete.click(on_delete, [k_collection, k_ids], k_deleted, api_name="delete")
            k_refresh.click(on_stats, [k_collection], [k_stats, k_sources], api_name="index_stats")
            gr.Markdown("### Audit log of clinical-note reads")
            with gr.Row():
                a_boxes = [gr.Textbox(label=label) for label in
                           ("User", "Patient", "Note id", "Since (YYYY-MM-DD)", "Until (YYYY-MM-DD)")]
                a_show = gr.Button("Show")
            a_caption = gr.Markdown(elem_id="audit-caption")
            a_rows = gr.Dataframe(headers=list(AUDIT_HEADERS), label="Reads", interactive=False)
            a_show.click(on_audit, a_boxes, [a_rows, a_caption], api_name="audit")
        demo.load(on_load, None, [collection, signed_in, grading_tab, evals_tab, knowledge_tab], api_name=False)
    return demo


# --- cairn serve -------------------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.answer import POLICIES
    from assistant.llm.cli_args import add_llm_arguments

    p = subparsers.add_parser("serve", help="serve the web app on 127.0.0.1:7860",
                              description="Serve the chat, grading, evals and knowledge tabs. With no users "
                                          "configured the app runs for one local user (--local-role) and only "
                                          "binds to this machine; add users (`cairn users add`) to log in "
                                          "with roles and to bind to other interfaces.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--local-role", default=os.environ.get("CAIRN_ROLE", "admin"),
                   help="role of the local user when no users are configured (default: $CAIRN_ROLE or admin)")
    p.add_argument("--policy", choices=POLICIES, default="remove",
                   help="unsupported sentences: removed (the reply shows once verified), or shown flagged "
                        "(the reply previews as it is written) (default: %(default)s)")
    add_llm_arguments(p)
    p.set_defaults(func=cmd_serve)


def authenticate_user(username: str, password: str) -> bool:
    """Gradio's login check: the users file's bcrypt hashes (assistant/users.py)."""
    from assistant.users import authenticate

    return authenticate(username, password) is not None


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.llm.cli_args import llm_config_from_args
    from assistant.users import auth_configured

    auth = None
    if auth_configured():
        auth = authenticate_user
    elif args.host not in LOCAL_HOSTS:
        raise AppError(f"refusing to serve on {args.host} without users: anyone on the network could read "
                       f"the notes; add one with `cairn users add NAME --role admin`, or bind to 127.0.0.1")
    services = Services(AppConfig(local_role=args.local_role, policy=args.policy,
                                  llm=llm_config_from_args(args)))
    try:
        build_demo(services).queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port, auth=auth,
            auth_message="Sign in with your cairn account (ask an admin: `cairn users add`).")
    except OSError as exc:
        raise AppError(f"cannot serve on {args.host}:{args.port} ({exc}); stop what uses the port "
                       f"or pass --port") from exc
    return 0


if __name__ == "__main__":
    build_demo().launch(server_name="127.0.0.1", server_port=7860)
