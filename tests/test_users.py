"""UI users (assistant/users.py, users_cli.py): bcrypt hashes (never plain text), authentication
(right, wrong, unknown: the unknown name still pays a bcrypt check), validation messages,
removal, the private atomic users file, and `cairn users` with --password-stdin."""
from __future__ import annotations

import argparse
import io
import json
import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import bcrypt
import pytest

from assistant import users
from assistant.users import (
    User,
    UserError,
    add_user,
    auth_configured,
    authenticate,
    LoginThrottle,
    ThrottleConfig,
    get_user,
    list_users,
    remove_user,
    users_path,
)
from assistant.users_cli import register

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def cheap_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)  # bcrypt's minimum: the tests check logic, not cost
    monkeypatch.setattr(users, "LOGIN_THROTTLE", LoginThrottle())  # no failures carried over between tests


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def counting_bcrypt(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(users.bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    return calls


def test_hash_is_bcrypt_not_plaintext(cairn_home: Path) -> None:
    user = add_user("alice", PASSWORD, "expert")
    assert user == User("alice", "expert", user.created) and user.created
    raw = users_path().read_text()
    assert PASSWORD not in raw
    (record,) = json.loads(raw)["users"]
    assert record["hash"].startswith("$2b$04$") and bcrypt.checkpw(PASSWORD.encode(), record["hash"].encode())
    assert users_path() == cairn_home.resolve() / "users.json"


def test_users_file_is_private(cairn_home: Path) -> None:
    add_user("alice", PASSWORD, "expert")
    assert stat.S_IMODE(users_path().stat().st_mode) == 0o600
    assert [p.name for p in users_path().parent.iterdir() if p.name.endswith(".tmp")] == []


def test_authenticate() -> None:
    add_user("alice", PASSWORD, "clinician")
    assert authenticate("alice", PASSWORD) == get_user("alice")
    assert authenticate("ALICE", PASSWORD).name == "alice"  # names are case-insensitive
    assert authenticate("alice", "wrong password") is None
    assert authenticate("alice", PASSWORD + "x" * 80) is None  # past bcrypt's 72 bytes: refused
    assert authenticate("alice", "") is None and authenticate("alice", None) is None


def test_unknown_user_still_runs_a_bcrypt_check(monkeypatch: pytest.MonkeyPatch) -> None:
    add_user("alice", PASSWORD, "user")
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(users.bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    assert authenticate("mallory", PASSWORD) is None
    assert len(calls) == 1 and calls[0].startswith(b"$2b$04$")  # a dummy hash of the stored cost
    assert authenticate("alice", PASSWORD) is not None and len(calls) == 2


def test_authenticate_returns_the_stored_name_whatever_was_typed() -> None:
    add_user("alice", PASSWORD, "expert")
    for typed in ("ALICE", " Alice ", "alice"):
        assert authenticate(typed, PASSWORD) == User("alice", "expert", get_user("alice").created)


def test_grades_are_recorded_under_the_stored_name(tmp_path: Path) -> None:
    import app
    from evals.grading.records import Item
    from evals.grading.store import GradeStore
    from evals.grading.views import grading_queue, grading_submit

    add_user("alice", PASSWORD, "expert")
    store = GradeStore(tmp_path / "grades.sqlite")
    item_id = store.add_item(Item(question="Who directed Rear Window?", answer="Hitchcock.", collection="catalog",
                                  system="qwen"))
    request = SimpleNamespace(username="ALICE")  # the login form's text, as Gradio keeps it
    role, grader = app.identity(SimpleNamespace(config=None), request)
    assert (role, grader) == ("expert", "alice")
    grading_submit(store, role, grader, item_id, 4, 4, 4, 4, 4)
    assert [g.grader for g in store.grades(role="admin")] == ["alice"]
    again = app.identity(SimpleNamespace(config=None), SimpleNamespace(username="alice"))
    assert grading_queue(store, *again)[0] == []  # the same grader: nothing left to grade


def test_repeated_failures_lock_the_name_out_without_a_bcrypt_check(monkeypatch: pytest.MonkeyPatch) -> None:
    add_user("alice", PASSWORD, "user")
    add_user("bob", PASSWORD, "user")
    clock = Clock()
    throttle = LoginThrottle(ThrottleConfig(max_failures=3, window_s=60, lockout_s=300), clock=clock)
    calls = counting_bcrypt(monkeypatch)
    for typed in ("alice", "ALICE", " alice"):  # one name, however it is typed
        assert authenticate(typed, "wrong password", throttle=throttle) is None
    assert len(calls) == 3
    assert authenticate("alice", PASSWORD, throttle=throttle) is None  # locked: even the right password
    assert len(calls) == 3  # ... and refused before bcrypt runs
    assert authenticate("bob", PASSWORD, throttle=throttle).name == "bob"  # other names are not locked
    clock.now += 299
    assert authenticate("alice", PASSWORD, throttle=throttle) is None
    clock.now += 1
    assert authenticate("alice", PASSWORD, throttle=throttle).name == "alice"


def test_failures_count_within_the_window_and_a_success_resets_them() -> None:
    add_user("alice", PASSWORD, "user")
    clock = Clock()
    throttle = LoginThrottle(ThrottleConfig(max_failures=3, window_s=60, lockout_s=300), clock=clock)
    for _ in range(2):
        assert authenticate("alice", "wrong password", throttle=throttle) is None
    assert authenticate("alice", PASSWORD, throttle=throttle) is not None  # resets the count
    for _ in range(2):
        assert authenticate("alice", "wrong password", throttle=throttle) is None
    clock.now += 61  # those two are out of the window now
    assert authenticate("alice", "wrong password", throttle=throttle) is None
    assert throttle.locked_for("alice") == 0
    assert authenticate("alice", PASSWORD, throttle=throttle) is not None


def test_failures_across_many_names_lock_every_login(monkeypatch: pytest.MonkeyPatch) -> None:
    add_user("alice", PASSWORD, "user")
    clock = Clock()
    throttle = LoginThrottle(ThrottleConfig(max_failures=3, max_failures_overall=4, window_s=60, lockout_s=30),
                             clock=clock)
    for name in ("mallory1", "mallory2", "mallory3", "mallory4"):  # one guess each: no name reaches 3
        assert authenticate(name, PASSWORD, throttle=throttle) is None
    calls = counting_bcrypt(monkeypatch)
    assert authenticate("alice", PASSWORD, throttle=throttle) is None and calls == []
    clock.now += 30
    assert authenticate("alice", PASSWORD, throttle=throttle) is not None


@pytest.mark.parametrize("change", [{"max_failures": 0}, {"max_failures_overall": 1.5}, {"window_s": 0},
                                    {"lockout_s": -1}, {"max_failures": True}])
def test_throttle_config_names_the_bad_value(change: dict) -> None:
    (name, value), = change.items()
    with pytest.raises(UserError, match=rf"ThrottleConfig.{name} must be .*, got {value!r}"):
        ThrottleConfig(**change)


def test_list_never_returns_hashes_and_remove() -> None:
    assert not auth_configured() and list_users() == []
    add_user("alice", PASSWORD, "expert")
    add_user("bob", PASSWORD, "admin")
    assert auth_configured() and [(u.name, u.role) for u in list_users()] == [("alice", "expert"), ("bob", "admin")]
    assert all(set(vars(u)) == {"name", "role", "created"} for u in list_users())
    assert remove_user("ALICE").name == "alice"
    assert [u.name for u in list_users()] == ["bob"] and authenticate("alice", PASSWORD) is None
    with pytest.raises(UserError, match="no user named 'alice'"):
        remove_user("alice")


def test_validation_names_the_problem() -> None:
    with pytest.raises(UserError, match="user name 'bad name' is invalid"):
        add_user("bad name", PASSWORD, "user")
    with pytest.raises(UserError, match="unknown role 'root'; use one of user, clinician, expert, admin"):
        add_user("alice", PASSWORD, "root")
    with pytest.raises(UserError, match="too short; use at least 8 characters"):
        add_user("alice", "short", "user")
    with pytest.raises(UserError, match="longer than 72 bytes"):
        add_user("alice", "é" * 40, "user")
    with pytest.raises(UserError, match="equals the user name"):
        add_user("alice123", "ALICE123", "user")
    add_user("alice", PASSWORD, "user")
    with pytest.raises(UserError, match="user 'alice' already exists"):
        add_user("Alice", PASSWORD, "admin")


def test_a_damaged_users_file_is_reported(cairn_home: Path) -> None:
    users_path().write_text('{"schema": "cairn.users/1", "users": [{"name": "x"}]}')
    with pytest.raises(UserError, match="is not a valid users file"):
        authenticate("x", PASSWORD)


def test_concurrent_adds_keep_every_user() -> None:
    errors = []

    def add(n: int) -> None:
        try:
            add_user(f"user{n}", PASSWORD, "user")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(u.name for u in list_users()) == sorted(f"user{n}" for n in range(8))


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cairn")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_add_list_remove_with_password_stdin(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert _cli(["users", "add", "alice", "--role", "expert", "--password-stdin"]) == 0
    assert capsys.readouterr().out == "added alice (expert)\n"
    assert authenticate("alice", PASSWORD).role == "expert"
    assert _cli(["users", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [u["name"] for u in listed] == ["alice"] and "hash" not in listed[0]
    assert _cli(["users", "remove", "alice"]) == 0 and not auth_configured()
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(UserError, match="--password-stdin read nothing"):
        _cli(["users", "add", "bob", "--role", "user", "--password-stdin"])


def test_cli_prompts_twice_and_refuses_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(UserError, match="the two passwords differ"):
        _cli(["users", "add", "bob", "--role", "user"])
    answers = iter([PASSWORD, PASSWORD])
    assert _cli(["users", "add", "bob", "--role", "user"]) == 0 and get_user("bob").role == "user"


def test_cli_help(capsys) -> None:
    for argv in (["users"], ["users", "add"], ["users", "list"], ["users", "remove"]):
        with pytest.raises(SystemExit) as exit_:
            _cli([*argv, "--help"])
        assert exit_.value.code == 0 and "usage: cairn users" in capsys.readouterr().out
