"""Users of the UI: a name, a role (assistant/roles.py) and a bcrypt password hash, in
`$CAIRN_HOME/users.json` (mode 0600). Managed by `cairn users add|list|remove`
(assistant/users_cli.py); the UI calls `auth_configured()` and `authenticate()`.

    {"schema": "cairn.users/1",
     "users": [{"name": "alice", "role": "expert", "hash": "$2b$12$…", "created": "2026-11-23T10:00:00+00:00"}]}

Passwords: bcrypt (Provos & Mazières 1999, via the `bcrypt` package) with a per-user salt and
cost 2^12; the plain text is never stored or logged. bcrypt reads at most 72 bytes, so longer
passwords are refused rather than silently truncated. `authenticate` of an unknown name still
runs one bcrypt check against a dummy hash of the same cost, so the response time does not
tell which names exist. It returns the user as stored: a login typed "ALICE" or " alice " is
the user "alice", and that stored name is what grades and chat turns must be recorded under.

Guessing is throttled (`LoginThrottle`, in memory): after `max_failures` wrong passwords for
one name within `window_s`, that name is refused for `lockout_s` without a bcrypt check, and
after `max_failures_overall` failures across all names (spraying one password over many
names) every login is; a successful login clears its name's failures.

Writes are atomic (a temporary file in the same folder, fsync, rename) under an exclusive
lock on `users.json.lock`, so two `cairn users add` at once cannot drop each other's user and a
crash leaves either the old file or the new one. Names are unique regardless of case.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt

from assistant.roles import check_role
from knowledge.atomic import write_atomic
from knowledge.errors import CairnError
from knowledge.locks import file_lock

USERS_NAME = "users.json"
SCHEMA = "cairn.users/1"
BCRYPT_ROUNDS = 12  # cost 2^12: ~0.2-0.3 s per check here; tests lower it
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_BYTES = 72  # bcrypt's input limit
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_dummy_hashes: dict[int, bytes] = {}
log = logging.getLogger(__name__)


class UserError(CairnError):
    """A bad user name, role or password, an unknown or duplicate user, or an unreadable users file."""


@dataclass(frozen=True)
class User:
    """A user as the UI sees it: never the password hash."""

    name: str
    role: str
    created: str = ""

    def __post_init__(self) -> None:
        check_name(self.name)
        try:
            check_role(self.role)
        except CairnError as exc:
            raise UserError(str(exc)) from exc


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(f"user name {name!r} is invalid; use 1-64 letters, digits and . _ @ - "
                        "(starting with a letter or digit), e.g. 'alice' or 'a.smith@clinic'")
    return name


def check_password(password: Any, name: str = "") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"the password is too short; use at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise UserError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes (bcrypt's limit); use a shorter "
                        "one (a passphrase of a few words fits)")
    if not password.strip():
        raise UserError("the password is only whitespace; choose a real one")
    if name and password.casefold() == name.casefold():
        raise UserError("the password equals the user name; choose another")
    return password


def users_path() -> Path:
    from knowledge.home import cairn_home

    return cairn_home() / USERS_NAME


# -- the file -------------------------------------------------------------------------------------

def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        users = data["users"]
        if data.get("schema") != SCHEMA or not isinstance(users, list):
            raise ValueError(f"schema {data.get('schema')!r}")
        for record in users:
            User(record["name"], record["role"], record.get("created", ""))
            if not str(record["hash"]).startswith("$2"):
                raise ValueError(f"user {record['name']!r} has no bcrypt hash")
    except (OSError, ValueError, KeyError, TypeError, UserError) as exc:
        raise UserError(f"{path} is not a valid users file ({exc}); restore it from a backup, or move it away "
                        "and add the users again with `cairn users add`") from exc
    return users


def _write(path: Path, users: list[dict[str, Any]]) -> None:
    write_atomic(path, json.dumps({"schema": SCHEMA, "users": users}, indent=1, ensure_ascii=False) + "\n",
                 mode=0o600)


def _locked(path: Path) -> contextlib.AbstractContextManager[None]:
    """Exclusive lock for a read-modify-write of the users file (across processes)."""
    return file_lock(path.with_name(path.name + ".lock"))


def _key(name: str) -> str:
    """What identifies a user: the name without surrounding blanks, in any case."""
    return name.strip().casefold()


def _find(users: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    key = _key(name)
    return next((u for u in users if _key(u["name"]) == key), None)


def _user(record: dict[str, Any]) -> User:
    return User(record["name"], record["role"], record.get("created", ""))


# -- the API --------------------------------------------------------------------------------------

def add_user(name: str, password: str, role: str, *, path: str | Path | None = None) -> User:
    """Add a user with a bcrypt hash of `password`. UserError for a bad name, role or password,
    or a name already taken (in any case)."""
    check_name(name)
    User(name, role)  # validates the role with a UserError
    check_password(password, name)
    path = Path(path) if path is not None else users_path()
    hashed = bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode("ascii")
    with _locked(path):
        users = _read(path)
        existing = _find(users, name)
        if existing is not None:
            raise UserError(f"user {existing['name']!r} already exists; remove it first "
                            f"(`cairn users remove {existing['name']}`) or pick another name")
        record = {"name": name, "role": role, "hash": hashed,
                  "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        _write(path, [*users, record])
    return _user(record)


def remove_user(name: str, *, path: str | Path | None = None) -> User:
    """Remove a user; returns who was removed. UserError if there is no such user."""
    path = Path(path) if path is not None else users_path()
    with _locked(path):
        users = _read(path)
        record = _find(users, name)
        if record is None:
            raise UserError(f"no user named {name!r}; `cairn users list` shows who exists")
        _write(path, [u for u in users if u is not record])
    return _user(record)


def list_users(*, path: str | Path | None = None) -> list[User]:
    """Every user (name, role, created), in the order added. Never the hashes."""
    return [_user(u) for u in _read(Path(path) if path is not None else users_path())]


def get_user(name: str, *, path: str | Path | None = None) -> User | None:
    """The user called `name` (any case), or None."""
    record = _find(_read(Path(path) if path is not None else users_path()), name) if isinstance(name, str) else None
    return _user(record) if record else None


def auth_configured(*, path: str | Path | None = None) -> bool:
    """True when at least one user exists: the UI then asks for a login."""
    return bool(_read(Path(path) if path is not None else users_path()))


def _dummy_hash(rounds: int) -> bytes:
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = bcrypt.hashpw(b"cairn-no-such-user", bcrypt.gensalt(rounds=rounds))
    return _dummy_hashes[rounds]


def _check(password: str, hashed: bytes) -> bool:
    """bcrypt check; a password past 72 bytes is checked truncated (same cost) and then refused,
    as `add_user` never accepted one."""
    data = password.encode("utf-8") if isinstance(password, str) else b""
    return bcrypt.checkpw(data[:MAX_PASSWORD_BYTES], hashed) and len(data) <= MAX_PASSWORD_BYTES


def authenticate(name: str, password: str, *, path: str | Path | None = None,
                 throttle: LoginThrottle | None = None) -> User | None:
    """The user as stored (its stored name, whatever case or blanks the login was typed with)
    if `password` is theirs, else None (unknown name, wrong password, bad input, or a name or
    server locked out by `throttle`, default LOGIN_THROTTLE, which then skips the bcrypt check).
    An unknown name costs one bcrypt check too (against a dummy hash of the same cost)."""
    throttle = throttle if throttle is not None else LOGIN_THROTTLE
    key = _key(name) if isinstance(name, str) else ""  # "": every malformed name counts as one
    wait = throttle.locked_for(key)
    if wait:
        log.warning("login for %r refused for another %.0f s: too many failed attempts", key, wait)
        return None
    users = _read(Path(path) if path is not None else users_path())
    record = _find(users, name) if isinstance(name, str) else None
    if record is None:
        cost = int(users[0]["hash"].split("$")[2]) if users else BCRYPT_ROUNDS
        _check(password, _dummy_hash(cost))
        throttle.failed(key)
        return None
    if not _check(password, record["hash"].encode("ascii")):
        throttle.failed(key)
        return None
    throttle.succeeded(key)
    return _user(record)


# -- throttling -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThrottleConfig:
    """Limits on password guessing (see the module docstring). Times in seconds.

    max_failures: wrong passwords for one name within window_s before it is locked out.
    max_failures_overall: failures across all names within window_s before every login is.
    window_s: how far back failures count. lockout_s: how long a lockout lasts.
    """

    max_failures: int = 5
    max_failures_overall: int = 50
    window_s: float = 300.0
    lockout_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("max_failures", "max_failures_overall"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"ThrottleConfig.{name} must be a whole number >= 1, got {value!r}")
        for name in ("window_s", "lockout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UserError(f"ThrottleConfig.{name} must be a number of seconds > 0, got {value!r}")


class LoginThrottle:
    """Failed logins per name and overall within a sliding window, and the lockouts they
    cause. Thread-safe; `clock` (default time.monotonic) is injectable for tests."""

    def __init__(self, config: ThrottleConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or ThrottleConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}  # by name key: times of recent failures
        self._locked_until: dict[str, float] = {}
        self._overall: deque[float] = deque()
        self._overall_until = 0.0

    def locked_for(self, key: str) -> float:
        """Seconds until `key` (a name as `_key` makes it) may try again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            return max(0.0, self._locked_until.get(key, 0.0) - now, self._overall_until - now)

    def failed(self, key: str) -> None:
        now = self._clock()
        cfg = self.config
        with self._lock:
            self._forget(now)
            if self._count(self._failures.setdefault(key, deque()), now) >= cfg.max_failures:
                self._locked_until[key] = now + cfg.lockout_s
                del self._failures[key]
            if self._count(self._overall, now) >= cfg.max_failures_overall:
                self._overall_until = now + cfg.lockout_s
                self._overall.clear()

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)

    def _count(self, times: deque[float], now: float) -> int:
        """Add a failure at `now` to `times`, drop those out of the window; how many are left."""
        times.append(now)
        while times[0] <= now - self.config.window_s:
            times.popleft()
        return len(times)

    def _forget(self, now: float) -> None:
        """Drop names with no failure in the window and no lockout, so guessed names cannot pile up
        (the overall lockout bounds how many arrive per window)."""
        for key in [k for k, t in self._failures.items() if t[-1] <= now - self.config.window_s]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]


LOGIN_THROTTLE = LoginThrottle()
