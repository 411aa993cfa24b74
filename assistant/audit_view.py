"""The audit tab's data, as one plain function: the audit log of clinical-note reads
(knowledge/audit.py) as table rows, for admins only, with the state of its hash chain.

    audit_view("admin", {"patient": "pt_0012", "since": "2026-11-01"})
        ─▶ ([[line, time, user, role, via, notes, patients, detail], …], "12 records shown · chain intact: …")
    audit_view("clinician", {}) ─▶ ([], "**Error:** role 'clinician' may not read the audit log; …")
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assistant.roles import require_admin
from knowledge.audit import ROW_HEADERS, AuditFilter, AuditLog
from knowledge.errors import CairnError
from knowledge.safe_text import markdown_text

FILTER_FIELDS = ("user", "patient", "doc", "since", "until")
HEADERS = ROW_HEADERS


def audit_view(role: str, filters: Mapping[str, Any] | None = None, *,
               path: str | Path | None = None) -> tuple[list[list[Any]], str]:
    """(rows HEADERS, Markdown caption) of the latest records matching `filters` (keys user,
    patient, doc, since, until, limit; empty values are ignored, as blank form boxes send them).
    The role is checked before the log is opened; any error is one "**Error:** …" caption."""
    try:
        require_admin(role, "read the audit log")
        filters = dict(filters or {})
        unknown = set(filters) - {*FILTER_FIELDS, "limit"}
        if unknown:
            raise CairnError(f"unknown audit filter(s) {', '.join(sorted(unknown))}; use "
                             f"{', '.join(FILTER_FIELDS)} or limit")
        limit = filters.get("limit")
        where = AuditFilter(**{k: (str(filters[k]).strip() or None) for k in FILTER_FIELDS if filters.get(k)},
                            limit=int(limit) if limit else 100)
        log = AuditLog(path)
        records, chain = log.records(where), log.verify()
    except (CairnError, ValueError) as exc:
        return [], f"**Error:** {markdown_text(exc)}"  # it may quote the filter as typed
    rows = [record.row() for record in records]
    state = chain.summary() if chain.ok else f"**{chain.summary()}**"
    return rows, f"{len(rows)} record{'s' if len(rows) != 1 else ''} shown · {state}"
