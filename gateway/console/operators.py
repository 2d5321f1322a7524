"""Operator accounts of the ops console: a JSON file of names, roles and scrypt password hashes.

Why a file and not a ledger table: the console must let an operator in when the ledger is the thing that is
broken (a PostgreSQL that is down is exactly when someone opens the console), and the file is what Airflow's own
simple auth manager and htpasswd do — one file an administrator can provision with configuration management.
The file also holds the secret that signs session cookies, so every console process on a host shares sessions.
It is written with mode 0600; passwords never appear in it, only ``scrypt(n=2**14, r=8, p=1)`` hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from gateway.contract.errors import ConfigError

Role = Literal["viewer", "admin"]
"""``viewer`` reads every page; ``admin`` may also act (replay dead letters)."""

ROLES: tuple[str, ...] = get_args(Role)
DEFAULT_PATH = Path(".tongban/console-operators.json")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_MIN_PASSWORD = 8
NAME_MAX = 64
"""The longest login name, in characters: the login form refuses a longer one before any other work."""


@dataclass(frozen=True)
class Operator:
    name: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT).hex()


class OperatorBook:
    """The operators file, read again whenever it changed on disk (one ``stat`` a request): an operator removed,
    demoted or given a new password by ``tongban console operators`` is refused by a running console at their
    next request. :meth:`add`, :meth:`remove` and :meth:`end_sessions` write it back atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict = {"secret": "", "operators": {}}
        self._stamp: tuple[int, int, int] | None = None
        self._load()

    def _load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._data, self._stamp = {"secret": self._data.get("secret", ""), "operators": {}}, None
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the console operators file {self.path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("operators"), dict):
            raise ConfigError(f"{self.path} is not a console operators file (no 'operators' object)")
        self._data, self._stamp = data, stamp

    @property
    def secret(self) -> bytes:
        """The key that signs session cookies (made on first write; TONGBAN_CONSOLE_SECRET overrides it)."""
        configured = os.environ.get("TONGBAN_CONSOLE_SECRET")
        if configured:
            return configured.encode()
        self._load()
        if not self._data.get("secret"):
            raise ConfigError(f"no console operators in {self.path}: add one with "
                              f"tongban console operators add NAME --role admin")
        return bytes.fromhex(self._data["secret"])

    def names(self) -> list[tuple[str, Role]]:
        self._load()
        return sorted((name, entry["role"]) for name, entry in self._data["operators"].items())

    def add(self, name: str, password: str, role: str) -> Operator:
        if role not in ROLES:
            raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"operator name {name!r}: use letters, digits, '-', '_' or '.'")
        if len(name) > NAME_MAX:
            raise ConfigError(f"operator name {name[:20]!r}…: at most {NAME_MAX} characters")
        if len(password) < _MIN_PASSWORD:
            raise ConfigError(f"the password of {name} is shorter than {_MIN_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        self._load()
        # a new password (or role) for an existing operator ends the sessions they had
        self._data["operators"][name] = {"role": role, "salt": salt.hex(), "hash": _hash(password, salt),
                                         "sessions_after_ms": _now_ms()}
        self._data["secret"] = self._data.get("secret") or secrets.token_hex(32)
        self._write()
        return Operator(name, role)  # type: ignore[arg-type]

    def remove(self, name: str) -> None:
        self._load()
        if self._data["operators"].pop(name, None) is None:
            raise ConfigError(f"no console operator {name!r} in {self.path}")
        self._write()

    def verify(self, name: str, password: str) -> Operator | None:
        """The operator if the password is theirs; ``None`` otherwise (same work whether the name exists or not).
        Slow on purpose (scrypt): call it off the event loop."""
        self._load()
        entry = self._data["operators"].get(name)
        salt = bytes.fromhex(entry["salt"]) if entry else b"\0" * 16
        computed = _hash(password, salt)
        if entry is None or not hmac.compare_digest(computed, entry["hash"]):
            return None
        return Operator(name, entry["role"])

    def role_of(self, name: str, issued_ms: int | None = None) -> Role | None:
        """The operator's role now, or ``None`` if they are gone — or, given when a session was issued, if that
        session was ended since (a logout, a new password)."""
        self._load()
        entry = self._data["operators"].get(name)
        if entry is None or (issued_ms is not None and issued_ms <= int(entry.get("sessions_after_ms", 0))):
            return None
        return entry["role"]

    def session_epoch(self, name: str) -> int:
        """When ``name``'s sessions were last ended (a logout, a new password), in ms: the forms' CSRF tokens
        are bound to it, so each such event makes every form shown before it stale."""
        self._load()
        entry = self._data["operators"].get(name)
        return int(entry.get("sessions_after_ms", 0)) if entry else 0

    def end_sessions(self, name: str) -> None:
        """Log ``name`` out everywhere: every session issued until now is refused from the next request on."""
        self._load()
        entry = self._data["operators"].get(name)
        if entry is not None:
            entry["sessions_after_ms"] = _now_ms()
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self._data, out, indent=2, ensure_ascii=False)
        os.replace(tmp, self.path)
        st = self.path.stat()
        self._stamp = (st.st_mtime_ns, st.st_size, st.st_ino)


def _now_ms() -> int:
    return int(time.time() * 1000)


def operators_path(explicit: Path | None = None) -> Path:
    """``--operators PATH``, else ``TONGBAN_CONSOLE_OPERATORS``, else ``.tongban/console-operators.json`` here."""
    if explicit is not None:
        return explicit
    return Path(os.environ.get("TONGBAN_CONSOLE_OPERATORS") or DEFAULT_PATH)


__all__ = ["DEFAULT_PATH", "NAME_MAX", "ROLES", "Operator", "OperatorBook", "Role", "operators_path"]
