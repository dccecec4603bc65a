"""Who may call: the tokens file (``--auth-tokens``), parsed into an immutable table.

The file is TOML, its shape fixed by issue 11 so operators and tools can rely
on it::

    [[identity]]
    name = "ci-reader"
    token_sha256 = "<hex SHA-256 of the token>"
    role = "read"
    scope = ["team-a/"]          # optional: session-id prefixes

    [[identity]]
    name = "agent-7"
    cert_subject = "agent-7"     # a client certificate's CN or one of its SANs
    role = "write"

Only digests of tokens are stored, so the file leaks no secret. ``TokenFile``
re-reads it when it changes on disk; a bad edit keeps the last good table.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypeAlias, cast

log = logging.getLogger("contextstore.server")

MAX_REMEMBERED = 1024
"""Authorization headers an ``Identities`` table remembers having matched."""
RECHECK_SECONDS = 1.0
"""How often the tokens file's ``stat`` facts are looked at: a ``stat`` on every
call cost GetFile about a tenth of its rate (figure S1), and an operator's edit
need not apply within the second."""

Role: TypeAlias = Literal["read", "write", "admin"]
ROLES: tuple[Role, ...] = ("read", "write", "admin")
"""Weakest first: each role may do everything the ones before it may."""

_KEYS = frozenset({"name", "token_sha256", "cert_subject", "role", "scope"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*identity[ \t]*\]\]", re.M)


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    role: Role
    scope: tuple[str, ...] = ()
    """Session-id prefixes it may touch; empty: every namespace, the global one too."""
    token_sha256: str = ""
    cert_subject: str = ""

    def has_role(self, needed: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(needed)

    def may_touch(self, session_id: str) -> bool:
        """Whether the namespace ``session_id`` ("" = global) is within its scope."""
        if not self.scope:
            return True
        return bool(session_id) and session_id.startswith(self.scope)


def token_digest(token: str) -> str:
    """What the tokens file stores for ``token``: its SHA-256, lower-case hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Identities:
    """An immutable table of identities, looked up by token or certificate subject."""

    def __init__(self, identities: Iterable[Identity] = ()) -> None:
        self.all: tuple[Identity, ...] = tuple(identities)
        by_digest = {bytes.fromhex(i.token_sha256): i for i in self.all if i.token_sha256}
        by_subject = {i.cert_subject: i for i in self.all if i.cert_subject}
        self._by_digest: Mapping[bytes, Identity] = MappingProxyType(by_digest)
        self._by_subject: Mapping[str, Identity] = MappingProxyType(by_subject)
        # Authorization headers already matched: a hit skips parsing and hashing on
        # every call of a known client. Only matches are kept, at most MAX_REMEMBERED.
        self._by_header: dict[str, Identity] = {}

    def remembered(self, header: str) -> Identity | None:
        """The identity a whole authorization header value matched before, if any."""
        return self._by_header.get(header)

    def remember(self, header: str, identity: Identity) -> None:
        if len(self._by_header) >= MAX_REMEMBERED:
            self._by_header.clear()
        self._by_header[header] = identity

    def for_token(self, token: str) -> Identity | None:
        """The identity ``token`` names, or ``None``.

        The dict finds a candidate by the digest (timing tells nothing about a
        token, only about its hash); ``compare_digest`` confirms it in constant time.
        """
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found = self._by_digest.get(digest)
        if found is None or not hmac.compare_digest(digest, bytes.fromhex(found.token_sha256)):
            return None
        return found

    def for_subjects(self, subjects: Iterable[str]) -> list[Identity]:
        """The identities whose ``cert_subject`` is one of a certificate's CN and SANs."""
        found: dict[str, Identity] = {}
        for subject in subjects:
            identity = self._by_subject.get(subject)
            if identity is not None:
                found[identity.name] = identity
        return list(found.values())


# -- parsing -------------------------------------------------------------------


def parse(text: str, source: str) -> Identities:
    """The table ``text`` describes; ValueError naming ``source`` and the line."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message says "(at line N, column M)"
        raise ValueError(f"{source}: not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"identity"})
    if unknown:
        raise ValueError(f"{source}{_line_of_key(text, unknown[0])}: unknown key {unknown[0]!r}; "
                         f"the file holds only [[identity]] tables")  # fmt: skip
    tables = document.get("identity", [])
    if not isinstance(tables, list):
        raise ValueError(f"{source}: 'identity' must be [[identity]] tables")
    headers = [text.count("\n", 0, m.start()) + 1 for m in _HEADER.finditer(text)]
    identities: list[Identity] = []
    for index, table in enumerate(tables):
        where = f"{source}, line {headers[index]}" if len(headers) == len(tables) else source
        try:
            identities.append(_identity(table))
        except ValueError as error:
            raise ValueError(f"{where}: identity #{index + 1}: {error}") from None
        _check_unique(identities, where)
    return Identities(identities)


def _line_of_key(text: str, key: str) -> str:
    match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*[=.\]]", text, re.M)
    return f", line {text.count(chr(10), 0, match.start()) + 1}" if match else ""


def _identity(table: Any) -> Identity:
    if not isinstance(table, dict):
        raise ValueError("must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("'name' must be a non-empty string")
    prefix = f"{name!r}: "
    token = table.get("token_sha256")
    subject = table.get("cert_subject")
    if (token is None) == (subject is None):
        raise ValueError(f"{prefix}give exactly one of 'token_sha256' and 'cert_subject'")
    if token is not None and not (isinstance(token, str) and _HEX64.fullmatch(token)):
        raise ValueError(f"{prefix}'token_sha256' must be 64 lower-case hex digits "
                         f"(`contextstore auth hash-token` prints it)")  # fmt: skip
    if subject is not None and not (isinstance(subject, str) and subject):
        raise ValueError(f"{prefix}'cert_subject' must be a non-empty string")
    role = table.get("role")
    if role not in ROLES:
        raise ValueError(f"{prefix}'role' must be one of {', '.join(ROLES)}, got {role!r}")
    scope = table.get("scope", None)
    # An empty list would read as "nothing" but mean "everything": refused, not guessed.
    if scope is not None and not (
        isinstance(scope, list) and scope and all(isinstance(p, str) and p for p in scope)
    ):
        raise ValueError(f"{prefix}'scope' must be a list of non-empty session-id prefixes "
                         f"(leave it out for every namespace)")  # fmt: skip
    return Identity(name, cast(Role, role), tuple(scope or ()), token or "", subject or "")


def _check_unique(identities: list[Identity], where: str) -> None:
    """The last identity must not repeat an earlier one's name, token or subject."""
    last = identities[-1]
    for other in identities[:-1]:
        if other.name == last.name:
            raise ValueError(f"{where}: the name {last.name!r} is already taken")
        if last.token_sha256 and other.token_sha256 == last.token_sha256:
            raise ValueError(f"{where}: {last.name!r} has the same token as {other.name!r}")
        if last.cert_subject and other.cert_subject == last.cert_subject:
            raise ValueError(f"{where}: {last.name!r} has the same cert_subject as {other.name!r}")


def load(path: str) -> Identities:
    """The table in the file ``path``; ValueError naming the file (and line) when bad."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text: {error}") from None
    except OSError as error:
        raise ValueError(f"cannot read the tokens file {path}: {error.strerror}") from None
    return parse(text, path)


# -- reloading -----------------------------------------------------------------

StatFacts: TypeAlias = tuple[int, int, int, int, int]


def _facts(stat: os.stat_result) -> StatFacts:
    """What changes when the file is edited or replaced (a rename-into-place too)."""
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino, stat.st_dev)


class TokenFile:
    """The tokens file's table, re-read when its ``os.stat`` facts change.

    ``current()`` runs once per call, and looks at the file (one ``stat``) at
    most every ``recheck_seconds`` (default ``RECHECK_SECONDS``) by ``timer``.
    A file that breaks keeps the last good table and logs
    ``event=auth_reload_failed`` once per change; at start, ``__init__`` raises
    ValueError (``serve`` exits 2 with the message).
    """

    def __init__(
        self,
        path: str,
        *,
        stat: Callable[[str], os.stat_result] = os.stat,
        recheck_seconds: float | None = None,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._stat = stat
        self._every = RECHECK_SECONDS if recheck_seconds is None else recheck_seconds
        self._timer = timer
        self._lock = threading.Lock()
        self._facts = self._observe()
        self._table = load(path)
        self._next_check = timer() + self._every

    def _observe(self) -> StatFacts | str:
        """The file's facts, or the error stat gave (a missing file is a state too)."""
        try:
            return _facts(self._stat(self.path))
        except OSError as error:
            return f"cannot stat the tokens file {self.path}: {error.strerror}"

    def current(self) -> Identities:
        now = self._timer()
        if now < self._next_check:
            return self._table
        self._next_check = now + self._every
        facts = self._observe()
        if facts != self._facts:
            with self._lock:
                if facts != self._facts:  # another call may have reloaded meanwhile
                    self._reload(facts)
        return self._table

    def _reload(self, facts: StatFacts | str) -> None:
        self._facts = facts
        try:
            if isinstance(facts, str):
                raise ValueError(facts)
            self._table = load(self.path)
        except ValueError as error:
            log.error("event=auth_reload_failed path=%s error=%r kept=last_good", self.path,
                      str(error))  # fmt: skip
            return
        log.info("event=auth_reloaded path=%s identities=%d", self.path, len(self._table.all))
