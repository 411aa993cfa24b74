"""Who may search what: the four roles of cairn and the collections each may read.

The assistant enforces this itself (every tool checks before it touches an index), so a UI or
an API client cannot reach clinical notes by skipping a button: the UI only decides which
role a request carries.

    role       reads              grades answers   manages knowledge and users
    user       catalog            no               no
    clinician  catalog + notes    no               no
    expert     catalog            yes              no
    admin      catalog + notes    yes              yes

Grading rights (evals/grading/store.py) combine the two columns: a grader sees and grades only
items of collections its role may read, so an expert grades catalog answers and note answers
reach admins only. Grades, pairwise verdicts and chat feedback are readable by graders only.
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


# Roles that may grade answers and read grades, pairwise verdicts and feedback.
GRADERS: frozenset[str] = frozenset({"expert", "admin"})
# Roles that manage the knowledge base, the users and the exports.
ADMINS: frozenset[str] = frozenset({"admin"})


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


def can_grade(role: str) -> bool:
    """May `role` grade answers and read grades, pairwise verdicts and feedback?"""
    return check_role(role) in GRADERS


def can_admin(role: str) -> bool:
    """May `role` manage the knowledge base, users and exports?"""
    return check_role(role) in ADMINS


def require_grader(role: str) -> None:
    """Raise RoleError unless `role` may grade (and read grades)."""
    if not can_grade(role):
        raise RoleError(f"role {role!r} may not grade answers or read grades; "
                        f"roles that may: {', '.join(r for r in ROLES if r in GRADERS)}")


def readable_collections(role: str) -> frozenset[str]:
    """The collections `role` may read (for filtering stored items by collection)."""
    return COLLECTIONS_OF[check_role(role)]


def require_admin(role: str, action: str = "manage the knowledge base") -> None:
    """Raise RoleError unless `role` may administer; `action` completes "may not ..." in the message."""
    if not can_admin(role):
        raise RoleError(f"role {role!r} may not {action}; roles that may: "
                        f"{', '.join(r for r in ROLES if r in ADMINS)}")
