"""The grading database: items to grade, expert rubric grades, blind pairwise verdicts and chat
feedback in one SQLite file (default `$CAIRN_HOME/grades.sqlite`, DESIGN.md §1).

No grade may be lost to concurrent use or a crash, so:
  - WAL journal (readers never block the writer) and `synchronous=FULL` (a committed
    transaction is on disk before `grade()` returns: WAL with NORMAL may drop the last
    commits on power loss);
  - a new connection per call (thread-safe by construction; SQLite connections are not meant
    to be shared across threads) with a busy timeout, so concurrent writers wait their turn
    instead of failing with "database is locked";
  - one short `BEGIN IMMEDIATE` transaction per write (takes the write lock up front: no
    deadlock when two readers both try to upgrade);
  - grades are append-only: grading an item again adds a row and the latest row per
    (item, grader) counts. Nothing is updated in place or deleted.
The file is created with mode 0600: it holds clinical-note text.

Authorization lives here, next to the data, not in the UI: every read takes the requesting
user's role (assistant/roles.py). Items (they quote other people's chats), grades, pairwise
verdicts and feedback are for graders only (`can_grade`), and items of a collection the role may not read (notes, for an expert) are
neither listed, counted, queued nor gradable by it; asking for one is "not found", so a
refusal does not reveal that it exists.

    store = GradeStore()
    item_id = store.add_item(Item(question=…, answer=…, collection="catalog", system="qwen-1.5b"))
    for item in store.queue("alice", role="expert"):        # items alice has not graded yet
        store.grade(RubricGrade(item.id, "alice", 4, 4, 3, 5, 4, corrected_answer=…), role="expert")
    pair = store.next_pair("alice", role="expert")           # BlindPair or None
    store.record_pairwise(pair, "b", grader="alice", role="expert")
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.roles import may_read, readable_collections, require_grader
from knowledge.home import cairn_home, private_sqlite

from .pairwise import BlindPair, Candidate, make_blind_pair, resolve
from .records import (
    CRITERIA,
    JUDGE_PREFIX,
    Feedback,
    GradingError,
    Item,
    PairwiseJudgement,
    Passage,
    RubricGrade,
    check_grader,
)

DB_NAME = "grades.sqlite"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    question TEXT NOT NULL, answer TEXT NOT NULL,
    contexts TEXT NOT NULL, cited_ids TEXT NOT NULL,
    collection TEXT NOT NULL, system TEXT NOT NULL, origin TEXT NOT NULL,
    refused INTEGER NOT NULL, provenance TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_question ON items(question, collection);
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items(id),
    grader TEXT NOT NULL,
    {", ".join(f"{c} INTEGER NOT NULL CHECK ({c} BETWEEN 1 AND 5)" for c in CRITERIA)},
    comment TEXT NOT NULL, corrected_answer TEXT, shown TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS grades_item_grader ON grades(item_id, grader);
CREATE TABLE IF NOT EXISTS pairwise (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL, collection TEXT NOT NULL,
    item_a INTEGER REFERENCES items(id), item_b INTEGER REFERENCES items(id),
    system_a TEXT NOT NULL, system_b TEXT NOT NULL, answer_a TEXT NOT NULL, answer_b TEXT NOT NULL,
    seed INTEGER NOT NULL, swapped INTEGER NOT NULL,
    winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie')),
    grader TEXT NOT NULL, comment TEXT NOT NULL, shown TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thumb TEXT NOT NULL CHECK (thumb IN ('up', 'down')), reason TEXT NOT NULL,
    user TEXT NOT NULL, role TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    system TEXT NOT NULL, collection TEXT, cited_ids TEXT NOT NULL, contexts TEXT NOT NULL,
    turn_id TEXT NOT NULL, created TEXT NOT NULL);
"""


def default_db_path() -> Path:
    return cairn_home() / DB_NAME


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _in(values: Iterable[str]) -> tuple[str, list[str]]:
    """SQL `IN (?, ?, …)` placeholders and their parameters; `(NULL)`, which matches nothing,
    for no values."""
    values = sorted(values)
    return "(" + ", ".join("?" * len(values)) + ")" if values else "(NULL)", values


class GradeStore:
    """The grading database at `path` (default `$CAIRN_HOME/grades.sqlite`), created on first use."""

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.timeout_s = timeout_s
        private_sqlite(self.path)  # 0600 before SQLite writes a byte (its -wal/-shm copy the mode)
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise GradingError(f"{self.path}: SQLite refused WAL mode (got {mode!r}); keep the grades "
                                   "database on a local disk, not a network share")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):  # not executescript: it would commit the transaction
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        finally:
            conn.close()

    # -- connections ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise GradingError(f"cannot open the grades database {self.path}: {exc}; check the path and "
                               "its permissions") from exc
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction: committed when the block ends, rolled back on error."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()

    def journal_mode(self) -> str:
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- items ----------------------------------------------------------------------------------
    def add_item(self, item: Item) -> int:
        """Store `item` unless one with its key exists; returns the (new or existing) item id."""
        return self.add_items([item])[0][0]

    def add_items(self, items: Sequence[Item]) -> list[tuple[int, bool]]:
        """Store several items in one transaction; (item id, newly added) for each, in order."""
        with self._write() as conn:
            return [_insert_item(conn, item) for item in items]

    def item(self, item_id: int, *, role: str) -> Item:
        """The item `item_id` if `role` may see it (graders only: items quote other people's
        chats); GradingError "not found" for an item of a collection `role` may not read."""
        require_grader(role)
        with self._read() as conn:
            row = conn.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None or not may_read(role, row["collection"]):
            raise GradingError(f"no item #{item_id} that role {role!r} may see; take ids from the grading queue")
        return _item(row)

    def items(self, *, role: str, origin: str | None = None, limit: int | None = None) -> list[Item]:
        """Items `role` may see (graders only; collections the role may read), oldest first.
        `origin` "chat", "eval" (any run) or "eval:<run>" narrows them."""
        require_grader(role)
        where, params = self._visible(role)
        if origin == "eval":
            where += " AND origin LIKE 'eval:%'"
        elif origin:
            where, params = where + " AND origin = ?", [*params, origin]
        sql = f"SELECT * FROM items WHERE {where} ORDER BY id" + (" LIMIT ?" if limit else "")
        with self._read() as conn:
            return [_item(r) for r in conn.execute(sql, [*params, *([limit] if limit else [])])]

    def queue(self, grader: str, *, role: str, limit: int = 20, collection: str | None = None) -> list[Item]:
        """Items `grader` has not graded yet, oldest first, among those `role` may see. Thumbs-down
        chat answers come first: they are the ones most worth an expert's correction."""
        require_grader(role)
        check_grader(grader)
        where, params = self._visible(role)
        if collection is not None:
            where, params = where + " AND collection = ?", [*params, collection]
        sql = (f"SELECT * FROM items WHERE {where} AND id NOT IN (SELECT item_id FROM grades WHERE grader = ?) "
               "ORDER BY (json_extract(provenance, '$.thumb') = 'down') DESC, id LIMIT ?")
        with self._read() as conn:
            return [_item(r) for r in conn.execute(sql, [*params, grader, limit])]

    def _visible(self, role: str) -> tuple[str, list[str]]:
        marks, values = _in(readable_collections(role))
        return f"collection IN {marks}", values

    # -- rubric grades --------------------------------------------------------------------------
    def grade(self, grade: RubricGrade, *, role: str) -> int:
        """Store one rubric grade by a grader with `role`; returns its id. The item must be one
        `role` may see. `grade.shown` empty: the item's `shown()` is recorded as what was shown."""
        require_grader(role)
        item = self.item(grade.item_id, role=role)
        shown = dict(grade.shown) or item.shown()
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT INTO grades (item_id, grader, {', '.join(CRITERIA)}, comment, corrected_answer, shown, "
                f"created) VALUES (?, ?, {', '.join('?' * len(CRITERIA))}, ?, ?, ?, ?)",
                (grade.item_id, grade.grader, *(getattr(grade, c) for c in CRITERIA), grade.comment,
                 grade.corrected_answer, _json(shown), grade.created))
            return int(cur.lastrowid)

    def grades(self, *, role: str, item_id: int | None = None, grader: str | None = None,
               latest: bool = True, experts_only: bool = False) -> list[RubricGrade]:
        """Rubric grades of items `role` may see (graders only), oldest first. `latest`: only
        each grader's last grade per item. `experts_only`: leave out LLM judges ("judge:…")."""
        require_grader(role)
        where, params = self._visible(role)
        clauses, args = [f"g.item_id IN (SELECT id FROM items WHERE {where})"], list(params)
        if item_id is not None:
            clauses.append("g.item_id = ?")
            args.append(item_id)
        if grader is not None:
            clauses.append("g.grader = ?")
            args.append(grader)
        if experts_only:
            clauses.append("substr(g.grader, 1, ?) != ?")
            args += [len(JUDGE_PREFIX), JUDGE_PREFIX]
        if latest:
            clauses.append("g.id = (SELECT MAX(id) FROM grades WHERE item_id = g.item_id AND grader = g.grader)")
        with self._read() as conn:
            rows = conn.execute(f"SELECT g.* FROM grades g WHERE {' AND '.join(clauses)} ORDER BY g.id", args)
            return [_grade(r) for r in rows]

    # -- pairwise -------------------------------------------------------------------------------
    def next_pair(self, grader: str, *, role: str, seed: int | None = None) -> BlindPair | None:
        """The next blind pair for `grader`: two items answering the same question (same
        collection, visible to `role`) from different systems, with different answers, that
        this grader has not compared yet, in a random order (recorded in the pair). None when
        there is nothing left to compare."""
        require_grader(role)
        check_grader(grader)
        where, params = self._visible(role)
        sql = (f"SELECT * FROM items WHERE {where} AND (question, collection) IN (SELECT question, collection "
               f"FROM items WHERE {where} GROUP BY question, collection HAVING COUNT(DISTINCT system) > 1) "
               "ORDER BY id")
        with self._read() as conn:
            rows = conn.execute(sql, [*params, *params]).fetchall()
            done = {frozenset((r["item_a"], r["item_b"])) for r in
                    conn.execute("SELECT item_a, item_b FROM pairwise WHERE grader = ?", (grader,))}
        groups: dict[tuple[str, str], list[Item]] = {}
        for row in rows:
            groups.setdefault((row["question"], row["collection"]), []).append(_item(row))
        for (question, collection), items in groups.items():
            for i, first in enumerate(items):
                for second in items[i + 1:]:
                    if (first.system != second.system and first.answer.strip() != second.answer.strip()
                            and frozenset((first.id, second.id)) not in done):
                        return make_blind_pair(question, _candidate(first), _candidate(second),
                                               collection=collection, seed=seed)
        return None

    def record_pairwise(self, pair: BlindPair, pick: str, *, grader: str, role: str,
                        comment: str = "") -> PairwiseJudgement:
        """Store `grader`'s pick ("a", "b" or "tie", as shown) on `pair`; returns the stored
        verdict (its winner_system / loser_system name the systems)."""
        require_grader(role)
        if not may_read(role, pair.collection):
            raise GradingError(f"role {role!r} may not grade {pair.collection} answers")
        for item_id in (pair.a.item_id, pair.b.item_id):
            if item_id is not None:
                self.item(item_id, role=role)  # exists and visible
        outcome = resolve(pair, pick)
        verdict = PairwiseJudgement(
            question=pair.question, collection=pair.collection, system_a=pair.a.system, system_b=pair.b.system,
            answer_a=pair.a.answer, answer_b=pair.b.answer, seed=pair.seed, swapped=pair.swapped,
            winner=outcome.pick, grader=grader, item_a=pair.a.item_id, item_b=pair.b.item_id, comment=comment,
            shown=pair.shown())
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO pairwise (question, collection, item_a, item_b, system_a, system_b, answer_a, answer_b, "
                "seed, swapped, winner, grader, comment, shown, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                (verdict.question, verdict.collection, verdict.item_a, verdict.item_b, verdict.system_a,
                 verdict.system_b, verdict.answer_a, verdict.answer_b, verdict.seed, int(verdict.swapped),
                 verdict.winner, verdict.grader, verdict.comment, _json(verdict.shown), verdict.created))
            return PairwiseJudgement(**{**verdict.__dict__, "id": int(cur.lastrowid)})

    def pairwise(self, *, role: str, grader: str | None = None) -> list[PairwiseJudgement]:
        """Pairwise verdicts on collections `role` may see (graders only), oldest first."""
        require_grader(role)
        where, params = self._visible(role)
        if grader is not None:
            where, params = where + " AND grader = ?", [*params, grader]
        with self._read() as conn:
            return [_pairwise(r) for r in conn.execute(f"SELECT * FROM pairwise WHERE {where} ORDER BY id", params)]

    # -- feedback -------------------------------------------------------------------------------
    def add_feedback(self, feedback: Feedback, *, enqueue: bool = True) -> int:
        """Store a thumbs up/down (any role, on an answer of a collection its role may read).
        `enqueue`: the answer also joins the grading queue (once per chat turn), in the same
        transaction. Returns the feedback id."""
        if feedback.collection is not None and not may_read(feedback.role, feedback.collection):
            raise GradingError(f"role {feedback.role!r} may not give feedback on {feedback.collection} answers")
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO feedback (thumb, reason, user, role, question, answer, system, collection, cited_ids, "
                "contexts, turn_id, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (feedback.thumb, feedback.reason, feedback.user, feedback.role, feedback.question, feedback.answer,
                 feedback.system, feedback.collection, _json(list(feedback.cited_ids)),
                 _json([p.to_json() for p in feedback.contexts]), feedback.turn_id, feedback.created))
            feedback_id = int(cur.lastrowid)
            if enqueue and feedback.collection is not None:
                _insert_item(conn, item_from_feedback(feedback, feedback_id))
            return feedback_id

    def feedback(self, *, role: str, thumb: str | None = None, limit: int | None = None) -> list[Feedback]:
        """Feedback rows (graders only) on collections `role` may see, plus chit-chat ones, newest first."""
        require_grader(role)
        where, params = self._visible(role)
        where = f"({where} OR collection IS NULL)"
        if thumb is not None:
            where, params = where + " AND thumb = ?", [*params, thumb]
        sql = f"SELECT * FROM feedback WHERE {where} ORDER BY id DESC" + (" LIMIT ?" if limit else "")
        with self._read() as conn:
            return [_feedback(r) for r in conn.execute(sql, [*params, *([limit] if limit else [])])]

    # -- counts ---------------------------------------------------------------------------------
    def counts(self, *, role: str) -> dict[str, Any]:
        """What the database holds that `role` may see (graders only): items by origin kind,
        graded items, expert and judge grades, corrections, pairwise verdicts, feedback."""
        require_grader(role)
        where, params = self._visible(role)
        items_in = f"item_id IN (SELECT id FROM items WHERE {where})"
        judge = f"substr(grader, 1, {len(JUDGE_PREFIX)}) = '{JUDGE_PREFIX}'"
        expert, feedback = f"{items_in} AND NOT {judge}", f"({where} OR collection IS NULL)"
        queries = {  # every query takes the role's collections as its parameters
            "items": f"SELECT COUNT(*) FROM items WHERE {where}",
            "items_chat": f"SELECT COUNT(*) FROM items WHERE {where} AND origin = 'chat'",
            "items_eval": f"SELECT COUNT(*) FROM items WHERE {where} AND origin LIKE 'eval:%'",
            "graded_items": f"SELECT COUNT(DISTINCT item_id) FROM grades WHERE {expert}",
            "expert_grades": f"SELECT COUNT(*) FROM grades WHERE {expert}",
            "judge_grades": f"SELECT COUNT(*) FROM grades WHERE {items_in} AND {judge}",
            "corrections": f"SELECT COUNT(*) FROM grades WHERE {expert} AND corrected_answer IS NOT NULL",
            "graders": f"SELECT COUNT(DISTINCT grader) FROM grades WHERE {expert}",
            "pairwise": f"SELECT COUNT(*) FROM pairwise WHERE {where}",
            "pairwise_ties": f"SELECT COUNT(*) FROM pairwise WHERE {where} AND winner = 'tie'",
            "feedback_up": f"SELECT COUNT(*) FROM feedback WHERE {feedback} AND thumb = 'up'",
            "feedback_down": f"SELECT COUNT(*) FROM feedback WHERE {feedback} AND thumb = 'down'",
        }
        with self._read() as conn:
            return {name: int(conn.execute(sql, params).fetchone()[0]) for name, sql in queries.items()}


# -- rows <-> records -----------------------------------------------------------------------------

def _insert_item(conn: sqlite3.Connection, item: Item) -> tuple[int, bool]:
    cur = conn.execute(
        "INSERT OR IGNORE INTO items (key, question, answer, contexts, cited_ids, collection, system, origin, refused, "
        "provenance, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (item.key, item.question, item.answer, _json([p.to_json() for p in item.contexts]),
         _json(list(item.cited_ids)), item.collection, item.system, item.origin, int(item.refused),
         _json(item.provenance), item.created))
    if cur.rowcount:
        return int(cur.lastrowid), True
    return int(conn.execute("SELECT id FROM items WHERE key = ?", (item.key,)).fetchone()[0]), False


def chat_key(turn_id: str) -> str:
    """The item key of a chat turn: feedback and the chat log import of one turn meet here."""
    return f"chat:{turn_id}"


def item_from_feedback(feedback: Feedback, feedback_id: int | None = None) -> Item:
    """The grading item of the answer a feedback row is about (collection must be known)."""
    return Item(question=feedback.question, answer=feedback.answer, collection=feedback.collection or "",
                system=feedback.system, origin="chat", contexts=feedback.contexts, cited_ids=feedback.cited_ids,
                provenance={"turn_id": feedback.turn_id or None, "feedback_id": feedback_id, "thumb": feedback.thumb,
                            "reason": feedback.reason or None, "user": feedback.user, "role": feedback.role},
                key=chat_key(feedback.turn_id) if feedback.turn_id else "", created=feedback.created)


def _candidate(item: Item) -> Candidate:
    return Candidate(system=item.system, answer=item.answer, item_id=item.id, contexts=item.contexts)


def _item(row: sqlite3.Row) -> Item:
    return Item(question=row["question"], answer=row["answer"], collection=row["collection"], system=row["system"],
                origin=row["origin"], contexts=tuple(Passage.from_json(p) for p in json.loads(row["contexts"])),
                cited_ids=tuple(json.loads(row["cited_ids"])), refused=bool(row["refused"]),
                provenance=json.loads(row["provenance"]), key=row["key"], created=row["created"], id=row["id"])


def _grade(row: sqlite3.Row) -> RubricGrade:
    return RubricGrade(item_id=row["item_id"], grader=row["grader"], **{c: row[c] for c in CRITERIA},
                       comment=row["comment"], corrected_answer=row["corrected_answer"],
                       shown=json.loads(row["shown"]), created=row["created"], id=row["id"])


def _pairwise(row: sqlite3.Row) -> PairwiseJudgement:
    return PairwiseJudgement(
        question=row["question"], collection=row["collection"], system_a=row["system_a"], system_b=row["system_b"],
        answer_a=row["answer_a"], answer_b=row["answer_b"], seed=row["seed"], swapped=bool(row["swapped"]),
        winner=row["winner"], grader=row["grader"], item_a=row["item_a"], item_b=row["item_b"],
        comment=row["comment"], shown=json.loads(row["shown"]), created=row["created"], id=row["id"])


def _feedback(row: sqlite3.Row) -> Feedback:
    return Feedback(thumb=row["thumb"], user=row["user"], role=row["role"], question=row["question"],
                    answer=row["answer"], system=row["system"], collection=row["collection"], reason=row["reason"],
                    cited_ids=tuple(json.loads(row["cited_ids"])),
                    contexts=tuple(Passage.from_json(p) for p in json.loads(row["contexts"])),
                    turn_id=row["turn_id"], created=row["created"], id=row["id"])
