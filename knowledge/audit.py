"""The audit trail of clinical-note reads: who was shown which note, when, and through what —
an append-only, hash-chained JSON-lines file that admins read (`cairn audit`).

    $CAIRN_HOME/audit/reads.jsonl   (mode 0600, its folder 0700), one record per line:
    {"schema": "cairn.audit/1", "ts": "2026-11-23T10:02:11+00:00", "user": "alice", "role": "clinician",
     "surface": "app:chat", "action": "search", "collection": "notes", "doc_ids": ["note_0042"],
     "patient_ids": ["pt_0012"], "detail": "medications started {\"patient_id\": \"pt_0012\"}",
     "prev": "<sha256 of the previous line>"}

    surface   the entry point the person used: app:chat, app:grading, app:evals, cli:ask, cli:chat,
              cli:search, cli:extract, cli:grades; "api" for a library caller that named nobody
    action    what read the note: search, get_item, extract, view, export:golden, export:preferences

What is logged. A read is clinical when it comes from the notes collection or the document
carries `patient_id` metadata (`is_clinical`); catalog reads are not logged. Readers log before
they return what they read, and a failed append is an error, not a warning: no audit, no read.

Why JSON lines rather than a SQLite table. An append is one `write` on an O_APPEND descriptor
under an exclusive lock, then fsync, so a crash can only cut the last line short, never lose an
acknowledged record; each line is the exact bytes the hash chain covers (a SQLite row has no
canonical byte form to hash); and an auditor can read the file with grep or jq without cairn.

Tamper evidence. Each record carries `prev`, the sha256 of the raw previous line (GENESIS for the
first), so editing, inserting or deleting a line breaks the chain at the next record, and
`verify` names it. Someone with write access could still rewrite the whole chain from the edit
on, or cut the tail: `verify` prints the head (the last line's hash); an admin who keeps it
elsewhere passes it to a later `verify`, which checks that the line it names is still there.

Crash safety. A last line without its newline is torn (a crash mid-append): readers skip it, and
the next append seals it with a newline instead of cutting it off, so the file never loses a
byte and the chain covers the fragment like any line. `verify` lists such lines as torn.

Why the query text is kept (`detail`, up to DETAIL_CHARS). A query can itself hold PHI ("pt_0012
HIV status"), but an audit has to show why a note was read, which a hash cannot. The log
already names patients and notes, so it is protected like the notes: mode 0600, owner-only on
the command line, admin-only in the UI.
"""
from __future__ import annotations

import collections
import datetime as dt
import getpass
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import KnowledgeError
from knowledge.home import cairn_home, private_file
from knowledge.types import Chunk

try:  # POSIX advisory lock; elsewhere only this process's appends are serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

SCHEMA = "cairn.audit/1"
GENESIS = "0" * 64  # the `prev` of the first record
CLINICAL_COLLECTION = "notes"
DETAIL_CHARS = 500
_NAME = re.compile(r"^[a-z][a-z0-9_-]*(?::[a-z][a-z0-9_-]*)?$")
_LOCK = threading.Lock()
ROW_HEADERS = ("line", "time (UTC)", "user", "role", "via", "notes", "patients", "detail")


class AuditError(KnowledgeError):
    """The audit log cannot be written or read, or a bad audit record or filter; the message
    names the value and the fix."""


def audit_log_path() -> Path:
    return cairn_home() / "audit" / "reads.jsonl"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def os_user() -> str:
    """The operating-system user running cairn (the command line's reader by default)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container uid with no passwd entry
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _check_name(value: Any, what: str, example: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise AuditError(f"audit {what} {value!r} is invalid; use lowercase words like {example!r}")
    return value


@dataclass(frozen=True)
class Accessor:
    """Who reads, for the audit log: the user's name, their role, and the entry point
    (`surface`, see the module docstring)."""

    user: str
    role: str
    surface: str = "api"

    def __post_init__(self) -> None:
        for name in ("user", "role"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip() or "\n" in value:
                raise AuditError(f"audit {name} {value!r} must be a non-empty one-line string, e.g. the "
                                 "logged-in user's name and role")
        _check_name(self.surface, "surface", "cli:search")

    @classmethod
    def local(cls, surface: str = "api", *, role: str = "admin", user: str | None = None) -> Accessor:
        """The local machine's owner (the OS user unless `user` is named). The command line acts
        as the admin role: whoever runs it owns CAIRN_HOME's files."""
        return cls(user or os_user(), role, surface)


def is_clinical(collection: str | None, metadata: Mapping[str, Any] | None = None) -> bool:
    """Is a read of this document a read of clinical-note content? (the module docstring's rule)"""
    return collection == CLINICAL_COLLECTION or bool((metadata or {}).get("patient_id"))


@dataclass(frozen=True)
class AuditRecord:
    """One logged read (module docstring for the fields); `line` is where it was read from
    (None until stored), `prev` the hash it chains to."""

    user: str
    role: str
    surface: str
    action: str
    collection: str
    doc_ids: tuple[str, ...] = ()
    patient_ids: tuple[str, ...] = ()
    detail: str = ""
    ts: str = ""
    prev: str = ""
    line: int | None = None

    def __post_init__(self) -> None:
        Accessor(self.user, self.role, self.surface)
        _check_name(self.action, "action", "search")
        if not isinstance(self.collection, str) or not self.collection:
            raise AuditError(f"audit collection {self.collection!r} must name a collection, e.g. 'notes'")
        for name in ("doc_ids", "patient_ids"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
                raise AuditError(f"audit {name} must be a list of ids, got {values!r}")
            object.__setattr__(self, name, tuple(dict.fromkeys(values)))
        object.__setattr__(self, "detail", str(self.detail or "")[:DETAIL_CHARS])
        object.__setattr__(self, "ts", self.ts or now())
        _when(self.ts, "ts", end=False)  # a record must be placeable in time to be filtered by it

    @classmethod
    def of(cls, accessor: Accessor, action: str, collection: str, doc_ids: Iterable[str] = (),
           patient_ids: Iterable[str] = (), detail: str = "") -> AuditRecord:
        """A new record of a read by `accessor` (stamped now; chained when appended)."""
        return cls(accessor.user, accessor.role, accessor.surface, action, collection, tuple(doc_ids),
                   tuple(patient_ids), detail)

    @property
    def via(self) -> str:
        return f"{self.surface}/{self.action}"

    def row(self) -> list[Any]:
        """The record as a table row (ROW_HEADERS), for `cairn audit` and the UI."""
        return [self.line, self.ts, self.user, self.role, self.via, ", ".join(self.doc_ids),
                ", ".join(self.patient_ids), self.detail]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "ts": self.ts, "user": self.user, "role": self.role, "surface": self.surface,
                "action": self.action, "collection": self.collection, "doc_ids": list(self.doc_ids),
                "patient_ids": list(self.patient_ids), "detail": self.detail, "prev": self.prev}

    @classmethod
    def from_line(cls, raw: bytes, line: int) -> AuditRecord | None:
        """The record stored on `raw`, or None when the line is not one (a torn append)."""
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or obj.get("schema") != SCHEMA or \
                    not all(isinstance(obj.get(k), list) for k in ("doc_ids", "patient_ids")):
                return None
            return cls(obj["user"], obj["role"], obj["surface"], obj["action"], obj["collection"],
                       tuple(obj["doc_ids"]), tuple(obj["patient_ids"]), obj["detail"], obj["ts"],
                       obj["prev"], line)
        except (ValueError, KeyError, TypeError, AuditError):
            return None


def _when(value: str | dt.datetime | dt.date | None, name: str, *, end: bool) -> dt.datetime | None:
    """A filter bound as an aware datetime. A bare date covers its whole day (UTC): as an `end`
    bound it means the last instant of that day."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, dt.datetime):
            moment = value
        elif isinstance(value, dt.date) or len(str(value)) == 10:
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start + dt.timedelta(days=1, microseconds=-1) if end else start
        else:
            moment = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise AuditError(f"{name}={value!r} is not a date or time; use YYYY-MM-DD or an ISO time such as "
                         "2026-11-23T10:00:00+00:00") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class AuditFilter:
    """Which records to list: all given conditions must hold. `since`/`until` are inclusive
    (YYYY-MM-DD or ISO times; naive times are UTC); `limit` keeps the latest N (None: all)."""

    user: str | None = None
    patient: str | None = None
    doc: str | None = None
    since: str | dt.date | None = None
    until: str | dt.date | None = None
    limit: int | None = 100
    _since: dt.datetime | None = field(default=None, init=False, repr=False, compare=False)
    _until: dt.datetime | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        start, stop = _when(self.since, "since", end=False), _when(self.until, "until", end=True)
        if start is not None and stop is not None and start > stop:
            raise AuditError(f"since={self.since!r} is after until={self.until!r}; swap them")
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int)
                                       or self.limit < 1):
            raise AuditError(f"limit={self.limit!r} must be a whole number >= 1 (or none for every record)")
        object.__setattr__(self, "_since", start)
        object.__setattr__(self, "_until", stop)

    def match(self, record: AuditRecord) -> bool:
        if self.user and record.user.casefold() != self.user.casefold():
            return False
        if self.patient and self.patient not in record.patient_ids:
            return False
        if self.doc and self.doc not in record.doc_ids:
            return False
        if self._since is not None or self._until is not None:
            ts = _when(record.ts, "ts", end=False)
            if (self._since is not None and ts < self._since) or (self._until is not None and ts > self._until):
                return False
        return True


@dataclass(frozen=True)
class ChainReport:
    """What `AuditLog.verify` found: records checked, torn lines (appends a crash cut short), the
    first record whose `prev` does not match the line before it, the head hash, and where a head
    kept earlier (`anchor`) sits in the log (None: it is no longer there)."""

    records: int
    lines: int
    torn: tuple[int, ...] = ()
    broken_line: int | None = None
    broken_record: AuditRecord | None = None
    head: str = GENESIS
    anchor: str | None = None
    anchor_line: int | None = None

    @property
    def ok(self) -> bool:
        return self.broken_line is None and (self.anchor is None or self.anchor_line is not None)

    def summary(self) -> str:
        torn = (f"; {len(self.torn)} torn line(s) (appends cut short by a crash): "
                f"{', '.join(map(str, self.torn))}") if self.torn else ""
        if self.broken_line is not None:
            n, rec = self.broken_line, self.broken_record
            who = f" ({rec.ts}, {rec.user}, {rec.via})" if rec else ""
            before = ("records before it were removed" if n == 1 else
                      f"line {n - 1} was changed, or lines before line {n} were removed or inserted")
            return (f"chain BROKEN at line {n}{who}: its prev hash does not match the line before it — "
                    f"{before}; {self.records} record(s) checked{torn}")
        if self.anchor is not None and self.anchor_line is None:
            return (f"chain intact but the kept head {self.anchor} is not in it: the log was cut back or "
                    f"rewritten since that head was noted; {self.records} record(s){torn}")
        anchored = f"; the kept head is line {self.anchor_line}" if self.anchor is not None else ""
        return (f"chain intact: {self.records} record(s) on {self.lines} line(s){torn}{anchored}; head {self.head} "
                "(keep it, and pass it to a later verify to show the log only grew)")


class AuditLog:
    """The append-only log file (default `audit_log_path()`): `append`, `records`, `verify`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else audit_log_path()

    def append(self, records: Sequence[AuditRecord]) -> None:
        """Chain `records` onto the log in one write, then fsync (module docstring). Raises
        AuditError when the log cannot be written: the caller must not show what it read."""
        if not records:
            return
        try:
            with _LOCK:
                private_file(self.path)  # it names patients: 0600 in a 0700 folder, whatever widened it
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
                try:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
                    last, complete = _last_line(fd)
                    prev = GENESIS if last is None else _sha(last)
                    payload = [b"" if complete else b"\n"]  # seal a torn tail instead of gluing onto it
                    for record in records:
                        obj = {**record.to_json(), "prev": prev}
                        line = json.dumps(obj, ensure_ascii=False).encode("utf-8")
                        payload.append(line + b"\n")
                        prev = _sha(line)
                    _write_all(fd, b"".join(payload))
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise AuditError(f"cannot write the audit log {self.path} ({exc}); reads of clinical notes are "
                             "refused until it is writable: check the disk and that this user owns the file "
                             "(mode 0600)") from exc

    def lines(self) -> Iterator[tuple[int, bytes, AuditRecord | None]]:
        """(line number, raw bytes without the newline, record or None if not one), in file order."""
        if not self.path.exists():
            return
        try:
            with self.path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    text = raw[:-1] if raw.endswith(b"\n") else raw
                    yield number, text, AuditRecord.from_line(text, number)
        except OSError as exc:
            raise AuditError(f"cannot read the audit log {self.path} ({exc}); it is readable by its owner only: "
                             "run as the user that owns $CAIRN_HOME") from exc

    def records(self, where: AuditFilter | None = None) -> list[AuditRecord]:
        """The matching records, oldest first; the latest `where.limit` of them. Torn lines are skipped."""
        where = where or AuditFilter(limit=None)
        kept: collections.deque[AuditRecord] = collections.deque(maxlen=where.limit)
        for _, _, record in self.lines():
            if record is not None and where.match(record):
                kept.append(record)
        return list(kept)

    def verify(self, anchor: str | None = None) -> ChainReport:
        """Check every record's `prev` against the line before it; stop at the first break.
        `anchor`: a head noted earlier, which must still be the hash of one of the lines."""
        previous, records, torn, count, anchor_line = None, 0, [], 0, None
        for number, raw, record in self.lines():
            count = number
            if record is None:
                torn.append(number)
            else:
                records += 1
                expected = GENESIS if previous is None else _sha(previous)
                if record.prev != expected:
                    return ChainReport(records, number, tuple(torn), number, record, "", anchor, anchor_line)
            if anchor is not None and anchor_line is None and _sha(raw) == anchor:
                anchor_line = number
            previous = raw
        head = GENESIS if previous is None else _sha(previous)
        return ChainReport(records, count, tuple(torn), head=head, anchor=anchor,
                           anchor_line=0 if anchor == GENESIS else anchor_line)


def _sha(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _last_line(fd: int, block: int = 4096) -> tuple[bytes | None, bool]:
    """(the file's last line without its newline, None when the file is empty; whether the file
    ends in a newline, i.e. the last append finished)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None, True
    complete = os.pread(fd, 1, size - 1) == b"\n"
    tail, pos = b"", size - 1 if complete else size  # tail = the bytes [pos, end of the last line)
    while pos > 0:
        start = max(0, pos - block)
        tail = os.pread(fd, pos - start, start) + tail
        pos = start
        cut = tail.rfind(b"\n")
        if cut != -1:
            return tail[cut + 1:], complete
    return tail, complete


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# -- what the readers call ---------------------------------------------------------------------

def notes_of(collection: str, chunks: Iterable[Chunk]) -> list[tuple[str, str | None]]:
    """(doc id, patient id) of each clinical document among `chunks`, once each, in first-seen order."""
    seen: dict[str, str | None] = {}
    for chunk in chunks:
        if chunk.doc_id not in seen and is_clinical(collection, chunk.metadata):
            patient = chunk.metadata.get("patient_id")
            seen[chunk.doc_id] = str(patient) if patient else None
    return list(seen.items())


def record_chunks(accessor: Accessor, action: str, collection: str, chunks: Iterable[Chunk], detail: str = "",
                  *, log: AuditLog | None = None) -> int:
    """Log one record per clinical note among `chunks` about to be shown (several sections of one
    note make one record); returns how many. Non-clinical chunks are not logged."""
    records = [AuditRecord.of(accessor, action, collection, [doc_id], [patient] if patient else [], detail)
               for doc_id, patient in notes_of(collection, chunks)]
    (log or AuditLog()).append(records)
    return len(records)


def record_read(accessor: Accessor, action: str, collection: str, doc_ids: Iterable[str],
                patient_ids: Iterable[str] = (), detail: str = "", *, log: AuditLog | None = None) -> bool:
    """Log one record for one thing shown that draws on several notes (a graded answer, an eval
    case, an exported line), if it is clinical; returns whether it was logged."""
    patients = tuple(p for p in patient_ids if p)
    if not (is_clinical(collection) or patients):
        return False
    (log or AuditLog()).append([AuditRecord.of(accessor, action, collection, [d for d in doc_ids if d], patients,
                                                detail)])
    return True


def doc_ids_of(sources: Iterable[Mapping[str, Any]]) -> list[str]:
    """The distinct `doc_id`s of JSON sources/contexts (as eval results and grading items store them)."""
    return list(dict.fromkeys(str(s["doc_id"]) for s in sources if isinstance(s, Mapping) and s.get("doc_id")))
