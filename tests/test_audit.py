"""The audit trail of clinical-note reads (knowledge/audit.py): appends, filters, the hash chain
(an edited or deleted line is named, a torn last line is tolerated), owner-only permissions, and
every reader that logs — the agent's tools, extraction, exports, the grading and evals views and
the command line — with the right user and surface, while catalog reads log nothing."""
from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from agent_world import make_agent, supported
from assistant.audit_view import HEADERS, audit_view
from assistant.llm import FakeLLM
from assistant.tools.base import ACCESSOR_KEY
from knowledge.audit import (
    GENESIS,
    Accessor,
    AuditError,
    AuditFilter,
    AuditLog,
    AuditRecord,
    audit_log_path,
    os_user,
    record_read,
)

ALICE = Accessor("alice", "clinician", "app:chat")
NOTES_ANSWER = "Azithromycin 500 mg PO daily was started [1]."


def rec(user: str, doc: str, patient: str, ts: str, action: str = "search") -> AuditRecord:
    return AuditRecord(user, "clinician", "app:chat", action, "notes", (doc,), (patient,), f"q {doc}", ts)


@pytest.fixture
def log() -> AuditLog:
    log = AuditLog()
    log.append([rec("alice", "note_1", "pt_1", "2026-11-01T09:00:00+00:00"),
                rec("Bob", "note_2", "pt_2", "2026-11-02T10:00:00+00:00"),
                rec("alice", "note_3", "pt_1", "2026-11-03T11:00:00+00:00", "get_item"),
                rec("carol", "note_2", "pt_2", "2026-11-04T12:00:00+00:00")])
    return log


def lines_of(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines()


def docs(records) -> list[str]:
    return [d for r in records for d in r.doc_ids]


def call(tool: str, **args) -> dict:
    return {"name": tool, "args": args, "id": f"call_{tool}", "type": "tool_call"}


# -- the log ----------------------------------------------------------------------------------------

def test_append_then_read_back_every_field_in_order(log) -> None:
    first, second = log.records()[:2]
    assert (first.line, first.user, first.role, first.surface, first.action) == (1, "alice", "clinician", "app:chat",
                                                                                 "search")
    assert (first.collection, first.doc_ids, first.patient_ids, first.detail) == ("notes", ("note_1",), ("pt_1",),
                                                                                  "q note_1")
    assert first.ts == "2026-11-01T09:00:00+00:00" and first.prev == GENESIS
    assert second.prev != GENESIS and second.line == 2
    assert docs(log.records()) == ["note_1", "note_2", "note_3", "note_2"]
    assert json.loads(lines_of(log)[0])["schema"] == "cairn.audit/1"


@pytest.mark.parametrize("where, expected", [
    (AuditFilter(user="ALICE"), ["note_1", "note_3"]),                      # user names match case-insensitively
    (AuditFilter(patient="pt_2"), ["note_2", "note_2"]),
    (AuditFilter(doc="note_3"), ["note_3"]),
    (AuditFilter(since="2026-11-02", until="2026-11-03"), ["note_2", "note_3"]),  # whole days, inclusive
    (AuditFilter(since="2026-11-02T10:00:01"), ["note_3", "note_2"]),       # naive times are UTC
    (AuditFilter(until="2026-11-02T10:00:00+00:00"), ["note_1", "note_2"]),
    (AuditFilter(user="alice", patient="pt_1", since="2026-11-02"), ["note_3"]),
    (AuditFilter(limit=2), ["note_3", "note_2"]),                           # the latest N, oldest first
    (AuditFilter(user="nobody"), []),
])
def test_filters(log, where, expected) -> None:
    assert docs(log.records(where)) == expected


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "last week"}, "since='last week' is not a date or time; use YYYY-MM-DD"),
    ({"since": "2026-11-05", "until": "2026-11-01"}, "is after until='2026-11-01'; swap them"),
    ({"limit": 0}, "limit=0 must be a whole number >= 1"),
])
def test_bad_filters_name_the_value_and_the_fix(kwargs, message) -> None:
    with pytest.raises(AuditError, match=message):
        AuditFilter(**kwargs)


def test_bad_accessors_are_refused() -> None:
    with pytest.raises(AuditError, match="audit user '' must be a non-empty one-line string"):
        Accessor("", "admin", "cli:search")
    with pytest.raises(AuditError, match="audit surface 'Web UI' is invalid; use lowercase words like 'cli:search'"):
        Accessor("alice", "admin", "Web UI")
    assert Accessor.local("cli:search") == Accessor(os_user(), "admin", "cli:search")


def test_the_chain_is_intact_and_its_head_anchors_later_checks(log) -> None:
    report = log.verify()
    assert report.ok and (report.records, report.lines, report.torn) == (4, 4, ())
    assert "chain intact: 4 record(s)" in report.summary() and report.head in report.summary()
    head = report.head
    log.append([rec("dave", "note_4", "pt_4", "2026-11-05T08:00:00+00:00")])
    later = log.verify(anchor=head)
    assert later.ok and later.anchor_line == 4 and later.head != head
    assert not log.verify(anchor="f" * 64).ok  # a head that is not in the log: cut back or rewritten


def test_an_edited_middle_line_breaks_the_chain_at_the_next_record(log) -> None:
    lines = lines_of(log)
    lines[1] = lines[1].replace(b'"Bob"', b'"eve"')  # hide who read note_2
    log.path.write_bytes(b"\n".join(lines) + b"\n")
    report = log.verify()
    assert not report.ok and report.broken_line == 3 and report.broken_record.doc_ids == ("note_3",)
    assert "chain BROKEN at line 3" in report.summary() and "line 2 was changed" in report.summary()
    assert docs(log.records()) == ["note_1", "note_2", "note_3", "note_2"]  # still readable


def test_a_deleted_middle_line_breaks_the_chain_where_it_was(log) -> None:
    lines = lines_of(log)
    log.path.write_bytes(b"\n".join(lines[:1] + lines[2:]) + b"\n")
    report = log.verify()
    assert not report.ok and report.broken_line == 2 and report.broken_record.user == "alice"
    log.path.write_bytes(b"\n".join(lines[1:]) + b"\n")  # the first record removed
    report = log.verify()
    assert report.broken_line == 1 and "records before it were removed" in report.summary()


def test_a_torn_last_line_is_skipped_then_sealed_into_the_chain(log) -> None:
    with log.path.open("ab") as handle:  # a crash in the middle of an append
        handle.write(b'{"schema": "cairn.audit/1", "ts": "2026-11-0')
    assert docs(log.records()) == ["note_1", "note_2", "note_3", "note_2"]
    report = log.verify()
    assert report.ok and report.torn == (5,) and "1 torn line(s)" in report.summary()
    log.append([rec("dave", "note_9", "pt_9", "2026-11-06T08:00:00+00:00")])
    assert log.path.read_bytes().endswith(b"\n") and len(lines_of(log)) == 6  # sealed, not glued onto
    assert docs(log.records()) == ["note_1", "note_2", "note_3", "note_2", "note_9"]
    report = log.verify()
    assert report.ok and report.torn == (5,) and report.records == 5


def test_the_log_is_owner_only(log) -> None:
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    assert log.path == audit_log_path()
    log.path.chmod(0o644)  # widened by hand: the next append narrows it again
    log.append([rec("dave", "note_4", "pt_4", "2026-11-05T08:00:00+00:00")])
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_concurrent_appends_keep_one_chain() -> None:
    log = AuditLog()

    def work(n: int) -> None:
        for i in range(15):
            log.append([rec(f"user{n}", f"note_{n}_{i}", "pt_1", "2026-11-01T09:00:00+00:00")])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)  # a watchdog for a hang only; the appends take milliseconds
    report = log.verify()
    assert report.ok and report.records == 90 and len(set(docs(log.records()))) == 90


def test_an_unwritable_log_stops_the_read(kbs) -> None:
    audit_log_path().mkdir(parents=True)  # a folder where the file should be: every append fails
    agent, _ = make_agent(kbs, role="clinician")
    with pytest.raises(AuditError, match="cannot write the audit log .* reads of clinical notes are refused"):
        agent.langchain_tools()["search_notes"].invoke(call("search_notes", query="cough"))


# -- the readers -----------------------------------------------------------------------------------

def test_a_notes_search_logs_one_record_per_shown_note_for_the_caller(kbs) -> None:
    agent, _ = make_agent(kbs, role="clinician")
    message = agent.langchain_tools()["search_notes"].invoke(
        call("search_notes", query="started PO", filters={}, k=6), config={"configurable": {ACCESSOR_KEY: ALICE}})
    shown = list(dict.fromkeys(h.doc_id for h in message.artifact.hits))
    assert len(shown) == 2
    records = AuditLog().records()
    assert [r.doc_ids for r in records] == [(d,) for d in shown]
    patients = {"note_0001": ("pt_0001",), "note_0002": ("pt_0002",)}
    assert all(r.patient_ids == patients[r.doc_ids[0]] for r in records)
    assert {(r.user, r.role, r.surface, r.action, r.collection, r.detail) for r in records} == {
        ("alice", "clinician", "app:chat", "search", "notes", "started PO")}


def test_a_catalog_search_logs_nothing(kbs) -> None:
    agent, _ = make_agent(kbs, role="admin")
    message = agent.langchain_tools()["search_catalog"].invoke(call("search_catalog", query="ocean"))
    assert message.artifact.hits and agent.ask("documentaries about the ocean").chunks
    assert AuditLog().records() == [] and not audit_log_path().exists()


def test_the_asker_reaches_the_tools_through_ask_and_the_chat_thread(kbs) -> None:
    from assistant.chat_session import chat_turn

    llm = FakeLLM(default=NOTES_ANSWER, logprob_tables=[supported()] * 20)
    agent, _ = make_agent(kbs, llm=llm, role="clinician")
    agent.ask("what medications were started for pt_0001?", accessor=Accessor("bob", "clinician", "cli:ask"))
    *_, (_, _, status, _) = chat_turn(agent, None, "what medications were started for pt_0001?", "notes",
                                      user="carol")  # answered in a worker thread
    records = AuditLog().records()
    assert {(r.user, r.surface, r.doc_ids, r.patient_ids) for r in records} == {
        ("bob", "cli:ask", ("note_0001",), ("pt_0001",)), ("carol", "app:chat", ("note_0001",), ("pt_0001",))}
    assert all('"patient_id": "pt_0001"' in r.detail for r in records)  # the filters say why it was read


def test_get_item_and_extraction_log_the_note_with_the_default_caller(kbs) -> None:
    llm = FakeLLM(default=NOTES_ANSWER, logprob_tables=[supported()] * 20)
    agent, _ = make_agent(kbs, llm=llm, role="admin")
    tools = agent.langchain_tools()
    tools["get_item"].invoke(call("get_item", doc_id="note_0002"))
    tools["get_item"].invoke(call("get_item", doc_id="s1"))  # a catalog item: not logged
    agent.ask("extract symptoms, vitals and follow-up from note_0001", accessor=ALICE)
    got = [(r.user, r.role, r.surface, r.action, r.doc_ids, r.patient_ids) for r in AuditLog().records()]
    assert got == [(os_user(), "admin", "api", "get_item", ("note_0002",), ("pt_0002",)),
                   ("alice", "clinician", "app:chat", "extract", ("note_0001",), ("pt_0001",))]


def test_a_note_is_one_record_and_a_patient_id_is_clinical_in_any_collection() -> None:
    from knowledge.audit import record_chunks
    from knowledge.types import Chunk

    chunks = [Chunk("x#0", "x", "t", (0, 1), {"patient_id": "pt_7"}), Chunk("y#0", "y", "t", (0, 1), {}),
              Chunk("x#1", "x", "u", (1, 2), {"patient_id": "pt_7"})]
    assert record_chunks(ALICE, "search", "catalog", chunks) == 1  # two sections of one note: one record
    assert not record_read(ALICE, "view", "catalog", ["y"])
    assert [(r.collection, r.doc_ids, r.patient_ids) for r in AuditLog().records()] == [("catalog", ("x",), ("pt_7",))]


def test_exports_log_each_notes_line_before_writing(tmp_path: Path) -> None:
    from evals.grading.export import export_golden, export_preferences
    from evals.grading.records import Item, Passage, RubricGrade
    from evals.grading.store import GradeStore

    store = GradeStore(tmp_path / "grades.sqlite")
    note = store.add_item(Item(question="Symptoms in note 42?", answer="Cough [1].", collection="notes",
                               system="base", contexts=(Passage(1, "note_0042", "note_0042#0", "Cough."),),
                               cited_ids=("note_0042",)))
    film = store.add_item(Item(question="Who directed Rear Window?", answer="Hitchcock [1].", collection="catalog",
                               system="base", cited_ids=("film_0046",)))
    for item_id in (note, film):
        store.grade(RubricGrade(item_id, "ada", 2, 2, 2, 2, 2, corrected_answer="Better [1]."), role="admin")
    ada = Accessor("ada", "admin", "cli:grades")
    export_golden(store, tmp_path / "golden.jsonl", accessor=ada)
    export_preferences(store, tmp_path / "prefs.jsonl", accessor=ada)
    got = [(r.user, r.surface, r.action, r.doc_ids, r.detail.split(" line ")[0]) for r in AuditLog().records()]
    assert got == [("ada", "cli:grades", "export:golden", ("note_0042",), "golden.jsonl"),
                   ("ada", "cli:grades", "export:preferences", ("note_0042",), "prefs.jsonl")]


def test_grading_and_eval_case_views_log_note_items(tmp_path: Path) -> None:
    from evals import dashboard
    from evals.grading.records import Item, Passage
    from evals.grading.store import GradeStore
    from evals.grading.views import grading_load

    store = GradeStore(tmp_path / "grades.sqlite")
    note = store.add_item(Item(question="What was started?", answer="Azithromycin [1].", collection="notes",
                               system="base", contexts=(Passage(1, "note_0001", "note_0001#0", "Started"),)))
    assert "Azithromycin" in grading_load(store, "admin", "ada", note)[1]
    run = tmp_path / "evals" / "run1"
    run.mkdir(parents=True)
    case = {"key": "notes.jsonl::n-1", "status": "ok", "answer": "Azithromycin [1].",
            "inputs": {"question": "What was started?", "collection": "notes", "filters": {"patient_id": "pt_0001"}},
            "contexts": [{"n": 1, "doc_id": "note_0001", "text": "Started azithromycin."}]}
    (run / "results.jsonl").write_text(json.dumps(case) + "\n")
    assert "Azithromycin" in dashboard.case_detail("admin", "run1", "notes.jsonl::n-1", root=tmp_path / "evals",
                                                   user="ada")
    got = [(r.user, r.role, r.surface, r.action, r.doc_ids, r.patient_ids) for r in AuditLog().records()]
    assert got == [("ada", "admin", "app:grading", "view", ("note_0001",), ()),
                   ("ada", "admin", "app:evals", "view", ("note_0001",), ("pt_0001",))]


# -- who may read the log ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["user", "clinician", "expert"])
def test_only_admins_read_the_log_in_the_app(log, role) -> None:
    rows, caption = audit_view(role, {})
    assert rows == [] and caption == (f"**Error:** role {role!r} may not read the audit log; roles that may: admin")


def test_admins_read_filtered_rows_and_the_chain_state(log) -> None:
    rows, caption = audit_view("admin", {"patient": "pt_1", "user": "", "since": "", "limit": 10.0})
    assert [dict(zip(HEADERS, row))["notes"] for row in rows] == ["note_1", "note_3"]
    assert rows[1][:5] == [3, "2026-11-03T11:00:00+00:00", "alice", "clinician", "app:chat/get_item"]
    assert caption.startswith("2 records shown · chain intact: 4 record(s)")
    assert audit_view("admin", {"colour": "red"})[1].startswith("**Error:** unknown audit filter(s) colour")


# -- the command line -------------------------------------------------------------------------------

def test_cairn_audit_help(capsys) -> None:
    from cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["audit", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--patient ID" in out and "verify" in out and "mode 0600" in out


def test_cairn_audit_lists_filters_and_verifies(log, capsys) -> None:
    from cli import main

    assert main(["audit", "--patient", "pt_2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["line", "time", "(UTC)", "user", "role", "via", "notes", "patients", "detail"]
    assert [line.split()[:3] for line in out[1:]] == [["2", "2026-11-02T10:00:00+00:00", "Bob"],
                                                      ["4", "2026-11-04T12:00:00+00:00", "carol"]]
    assert main(["audit", "--user", "alice", "--json", "--limit", "1"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["doc_ids"] == ["note_3"] and json.loads(line)["line"] == 3
    assert main(["audit", "verify"]) == 0 and "chain intact: 4 record(s)" in capsys.readouterr().out
    lines = lines_of(log)
    log.path.write_bytes(b"\n".join([lines[0], lines[2], lines[3]]) + b"\n")
    assert main(["audit", "verify"]) == 1 and "chain BROKEN at line 2" in capsys.readouterr().out
    assert main(["audit", "--since", "someday"]) == 2
    assert "since='someday' is not a date" in capsys.readouterr().err


def test_cli_search_and_extract_log_the_os_user_or_the_named_one(kbs, cairn_home: Path, monkeypatch, capsys) -> None:
    import numpy as np

    import knowledge.index
    from cli import main
    from knowledge.docstore import DocStore
    from knowledge.types import Document

    with monkeypatch.context() as patch:
        patch.setattr(knowledge.index, "KnowledgeBase", lambda collection, config=None: kbs[collection])
        assert main(["search", "started PO", "-c", "notes", "-f", "patient_id=pt_0002", "--mode", "bm25"]) == 0
        assert main(["search", "ocean", "-c", "catalog", "--mode", "bm25"]) == 0  # logs nothing
    folder = cairn_home / "index" / "notes"
    folder.mkdir(parents=True)
    store = DocStore(folder / "docstore.sqlite")
    store.commit_docs([Document(id="note_0042", text="Cough for 3 days.", metadata={"patient_id": "pt_0042"})],
                      [], np.zeros((0, 384)))
    store.close()
    assert main(["extract", "note_0042", "--mode", "rules", "--json", "--user", "dr.who"]) == 0
    capsys.readouterr()
    got = [(r.user, r.surface, r.action, r.doc_ids, r.patient_ids, r.detail) for r in AuditLog().records()]
    assert got == [(os_user(), "cli:search", "search", ("note_0002",), ("pt_0002",), "started PO patient_id=pt_0002"),
                   ("dr.who", "cli:extract", "extract", ("note_0042",), ("pt_0042",), "")]
