"""`cairn users add|list|remove`: who may log in to the UI, with which role (assistant/users.py)."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from assistant.roles import ROLES

    p = subparsers.add_parser(
        "users", help="manage UI users and their roles (user, clinician, expert, admin)",
        description="Users of the UI, kept in $CAIRN_HOME/users.json with bcrypt password hashes. Roles: user "
                    "(catalog), clinician (catalog + notes), expert (catalog + grading), admin (everything). "
                    "With no users the UI runs without login.")
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = sub.add_parser("add", help="add a user (asks for the password twice)",
                         description="Add a user. The password is asked for twice unless --password-stdin reads "
                                     "it from the first line of standard input (for scripts).")
    add.add_argument("name", help="user name: letters, digits and . _ @ -")
    add.add_argument("--role", required=True, choices=ROLES, help="what the user may see and do")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="list users and their roles (never passwords)",
                        description="List users with their roles and creation times.")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)

    rm = sub.add_parser("remove", help="remove a user", description="Remove a user; they can no longer log in.")
    rm.add_argument("name", help="the user to remove")
    rm.set_defaults(func=cmd_remove)


def _password(args: argparse.Namespace) -> str:
    from assistant.users import UserError

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise UserError("--password-stdin read nothing; pipe the password in, e.g. `printf '%s\\n' \"$PW\" | "
                            "cairn users add NAME --role ROLE --password-stdin`")
        return line.rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise UserError("the two passwords differ; run the command again")
    return first


def cmd_add(args: argparse.Namespace) -> int:
    from assistant.users import add_user, check_name

    check_name(args.name)  # before asking for a password
    user = add_user(args.name, _password(args), args.role)
    print(f"added {user.name} ({user.role})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.users import list_users, users_path

    users = list_users()
    if args.json:
        print(json.dumps([u.__dict__ for u in users], indent=1))
    elif not users:
        print(f"no users in {users_path()}: the UI runs without login; add one with `cairn users add NAME --role ROLE`")
    else:
        width = max(4, *(len(u.name) for u in users))
        print(f"{'name':<{width}}  {'role':<9}  created")
        for u in users:
            print(f"{u.name:<{width}}  {u.role:<9}  {u.created}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.users import remove_user

    user = remove_user(args.name)
    print(f"removed {user.name} ({user.role})")
    return 0
