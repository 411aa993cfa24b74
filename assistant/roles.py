"""Who may search what: the four roles of cairn and the collections each may read.

The assistant enforces this itself (every tool checks before it touches an index), so a UI or
an API client cannot reach clinical notes by skipping a button: the UI only decides which
role a request carries.

    user       catalog
    clinician  catalog + notes
    expert     catalog (grading rights live in the grading database, not here)
    admin      catalog + notes (manages the knowledge base)
"""
from __future__ import annotations

from typing import Literal, get_args

from knowledge.errors import CairnError

Role = Literal["user", "clinician", "expert", "admin"]
ROLES: tuple[str, ...] = get_args(Role)

COLLECTIONS_OF: dict[str, frozenset[str]] = {
    "user": frozenset({"catalog"}),
    "clinician": frozenset({"catalog", "notes"}),
    "expert": frozenset({"catalog"}),
    "admin": frozenset({"catalog", "notes"}),
}

# Said instead of an answer when a question needs a collection the role may not read. It names
# no note, patient or count: the refusal itself must not leak what the notes hold.
ACCESS_DENIED_TEXT = "I can't search clinical notes for you: your role does not allow it."


class RoleError(CairnError):
    """An unknown role, or a role asking for a collection it may not read."""


def check_role(role: str) -> str:
    if role not in ROLES:
        raise RoleError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def may_read(role: str, collection: str) -> bool:
    return collection in COLLECTIONS_OF[check_role(role)]


def require(role: str, collection: str) -> None:
    """Raise RoleError unless `role` may read `collection`."""
    if not may_read(role, collection):
        raise RoleError(f"role {role!r} may not read the {collection} collection; "
                        f"roles that may: {', '.join(r for r in ROLES if collection in COLLECTIONS_OF[r])}")
