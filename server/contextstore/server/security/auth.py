"""Authentication and authorization of every call: ``AuthInterceptor``.

It runs inside the admission guard, so it sees the handlers as registered
(unary requests arrive parsed) and decides before the servicer, and so the
store, is called: a refusal never depends on, or reveals, whether data exists.

- Authentication: a sent ``authorization: Bearer <token>`` selects the
  identity; without one, the client certificate's CN or a SAN does (mTLS).
  Neither, an unknown or malformed token (even beside a valid certificate), or
  a certificate no identity names: UNAUTHENTICATED.
- Authorization: the method's role (``RULES``) and, for a scoped identity, the
  request's ``session_id``: PERMISSION_DENIED naming the identity, the call and
  what it lacks. A method of our service missing from ``RULES`` is denied to
  everyone (fail closed). Health needs no credentials; reflection any identity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from contextstore.server import callinfo
from contextstore.server.errors import quote
from contextstore.server.handlers import Behavior, BuiltHandlers, Handler, same_shape
from contextstore.server.security.identities import Identities, Identity, Role, TokenFile
from contextstore.v1 import context_store_pb2 as pb

OnRefused = Callable[[grpc.StatusCode], None]

_SERVICE = pb.DESCRIPTOR.services_by_name["ContextStoreService"]
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_PREFIX = "/grpc.reflection."  # v1 and v1alpha

_READ = ("GetFile", "GetMetadata", "GetAnalysis", "BatchGetFiles", "ListFiles", "Watch",
         "GetStats", "GetServerInfo")  # fmt: skip
_WRITE = ("CacheFile", "CacheAnalysis", "InvalidateFile", "InvalidateAnalysis", "InvalidatePrefix",
          "ClearSession", "BatchCacheFiles")  # fmt: skip
_ADMIN = ("GetStoreStats",)

_BY_ROLE: tuple[tuple[Role, tuple[str, ...]], ...] = (
    ("read", _READ),
    ("write", _WRITE),
    ("admin", _ADMIN),
)
RULES: Mapping[str, Role] = {
    f"/{_SERVICE.full_name}/{name}": role for role, names in _BY_ROLE for name in names
}
"""The role each method of our service needs. A method missing here is denied to all."""

NAMESPACED: frozenset[str] = frozenset(
    f"/{_SERVICE.full_name}/{m.name}"
    for m in _SERVICE.methods
    if "session_id" in m.input_type.fields_by_name
)
"""Methods that act on one namespace: those whose request names a session."""

SERVER_LEVEL: frozenset[str] = frozenset({f"/{_SERVICE.full_name}/GetServerInfo"})
"""Methods that name no session and show no cached data: a scoped identity may call them.
Any other method without a session (GetStoreStats, a future one) covers the whole
store, so a scoped identity may not call it."""


class Refused(Exception):
    """A call authentication or authorization turns away."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Rule:
    """What one method needs.

    ``role`` None: no one may call it. ``namespaced``: the request's session must
    be in a scoped identity's scope. ``store_wide``: no scoped identity may call
    it. ``public``: no credentials needed.
    """

    method: str
    role: Role | None
    namespaced: bool = False
    store_wide: bool = False
    public: bool = False

    @property
    def name(self) -> str:
        return self.method.rsplit("/", 1)[-1]


def rule_for(method: str, rules: Mapping[str, Role] = RULES) -> Rule:
    """The rule of the full method name ``method``."""
    if method.startswith(f"/{HEALTH_SERVICE}/"):
        return Rule(method, None, public=True)
    if method.startswith(REFLECTION_PREFIX):  # the schema only: any identity, scoped or not
        return Rule(method, "read")
    # Anything else, ours or not, fails closed unless the table names it.
    namespaced = method in NAMESPACED
    store_wide = not namespaced and method not in SERVER_LEVEL
    return Rule(method, rules.get(method), namespaced=namespaced, store_wide=store_wide)


# -- authentication --------------------------------------------------------------


def _bearer(values: list[str]) -> str:
    if len(values) != 1:
        raise Refused(grpc.StatusCode.UNAUTHENTICATED, "send one authorization header, not several")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refused(
            grpc.StatusCode.UNAUTHENTICATED,
            "the authorization header must be 'Bearer <token>'",
        )
    return token


def _subjects(context: grpc.ServicerContext) -> list[str]:
    """The client certificate's CN and SANs; empty without one (no mTLS)."""
    auth = context.auth_context()
    values = [*auth.get("x509_common_name", ()), *auth.get("x509_subject_alternative_name", ())]
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]


def authenticate(table: Identities, context: grpc.ServicerContext) -> Identity:
    """The caller's identity, or ``Refused`` with UNAUTHENTICATED."""
    sent = [v for k, v in context.invocation_metadata() or () if k == "authorization"]
    if sent:  # a token, when sent, decides: a certificate beside it does not rescue it
        header = str(sent[0])
        identity = table.remembered(header) if len(sent) == 1 else None
        if identity is not None:
            return identity
        identity = table.for_token(_bearer([str(v) for v in sent]))
        if identity is None:
            raise Refused(grpc.StatusCode.UNAUTHENTICATED, "the bearer token is not known")
        table.remember(header, identity)
        return identity
    subjects = _subjects(context)
    if not subjects:
        raise Refused(
            grpc.StatusCode.UNAUTHENTICATED,
            "no credentials: send 'authorization: Bearer <token>' or a client certificate",
        )
    found = table.for_subjects(subjects)
    if len(found) != 1:
        names = ", ".join(sorted(i.name for i in found)) or "none"
        raise Refused(
            grpc.StatusCode.UNAUTHENTICATED,
            f"the client certificate ({', '.join(sorted(set(subjects)))}) must name exactly "
            f"one identity; it names {names}",
        )
    return found[0]


# -- authorization ---------------------------------------------------------------


def _target(rule: Rule, session_id: str | None) -> str:
    if not rule.namespaced or session_id is None:
        return rule.name
    where = f"session {quote(session_id)}" if session_id else "the global namespace"
    return f"{rule.name} on {where}"


def _scope_text(identity: Identity) -> str:
    return ", ".join(identity.scope)


def authorize(identity: Identity, rule: Rule, session_id: str | None) -> None:
    """``Refused`` with PERMISSION_DENIED unless ``identity`` may make this call.

    ``session_id`` is the request's ("" = the global namespace); None when no
    request has arrived yet (a streaming request): its scope is checked per message.
    """
    lacks = _lacks(identity, rule, session_id)
    if lacks:
        raise Refused(
            grpc.StatusCode.PERMISSION_DENIED,
            f"identity {identity.name!r} may not call {_target(rule, session_id)}: {lacks}",
        )


def _lacks(identity: Identity, rule: Rule, session_id: str | None) -> str:
    """What ``identity`` lacks for the call, or ""."""
    if rule.role is None:
        return f"no role is allowed {rule.name} on this server (fail closed)"
    if not identity.has_role(rule.role):
        return f"needs role {rule.role}; has {identity.role}"
    if not identity.scope:
        return ""
    if rule.store_wide:
        return (
            f"it is scoped to {_scope_text(identity)} and {rule.name} covers the whole "
            f"store (an admin without a scope may call it)"
        )
    if not rule.namespaced or session_id is None:
        return ""
    if not session_id:
        return f"the global namespace is outside its scope {_scope_text(identity)}"
    if not identity.may_touch(session_id):
        return f"session {quote(session_id)} is outside its scope {_scope_text(identity)}"
    return ""


# -- the interceptor -------------------------------------------------------------


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates and authorizes every call before its handler runs."""

    def __init__(
        self,
        identities: TokenFile | Callable[[], Identities],
        *,
        on_refused: OnRefused = lambda code: None,
        rules: Mapping[str, Role] = RULES,
    ) -> None:
        self._identities = identities.current if isinstance(identities, TokenFile) else identities
        self._on_refused = on_refused
        self._built = BuiltHandlers(
            lambda method, handler: self._wrap(rule_for(method, rules), handler)
        )

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._built.get(handler_call_details.method, handler)

    # -- per call ------------------------------------------------------------------

    def _admit(self, rule: Rule, session_id: str | None, context: grpc.ServicerContext) -> Identity:
        """The call's identity, allowed the call; aborts the call when refused."""
        try:
            identity = authenticate(self._identities(), context)
            info = callinfo.current()
            if info is not None:
                info.identity = identity.name
            authorize(identity, rule, session_id)
        except Refused as refused:
            self._refuse(refused, context)
        return identity

    def _refuse(self, refused: Refused, context: grpc.ServicerContext) -> NoReturn:
        self._on_refused(refused.code)
        context.abort(refused.code, refused.message)
        raise AssertionError("context.abort returned")  # grpcio raises; this satisfies NoReturn

    # -- handlers ------------------------------------------------------------------

    def _wrap(self, rule: Rule, handler: Handler) -> Handler:
        if rule.public:
            return handler
        if handler.request_streaming:
            behavior = self._streaming_request(rule, handler)
        elif handler.response_streaming:
            behavior = self._unary_stream(rule, handler)
        else:
            behavior = self._unary_unary(rule, handler)
        return same_shape(handler, behavior)

    def _unary_unary(self, rule: Rule, handler: Handler) -> Behavior:
        inner = handler.unary_unary
        assert inner is not None

        def unary_unary(request: Any, context: grpc.ServicerContext) -> Any:
            self._admit(rule, _session(rule, request), context)
            return inner(request, context)

        return unary_unary

    def _unary_stream(self, rule: Rule, handler: Handler) -> Behavior:
        inner = handler.unary_stream
        assert inner is not None

        def unary_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._admit(rule, _session(rule, request), context)
            yield from inner(request, context)

        return unary_stream

    def _streaming_request(self, rule: Rule, handler: Handler) -> Behavior:
        """Credentials once, at the start; the scope of every request that names a session."""
        inner = handler.stream_stream or handler.stream_unary
        assert inner is not None

        def checked(
            identity: Identity, requests: Iterator[Any], context: grpc.ServicerContext
        ) -> Iterator[Any]:
            for request in requests:
                try:
                    authorize(identity, rule, _session(rule, request))
                except Refused as refused:
                    self._refuse(refused, context)
                yield request

        def streaming(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            identity = self._admit(rule, None, context)
            if rule.namespaced:
                requests = checked(identity, requests, context)
            return inner(requests, context)

        return streaming


def _session(rule: Rule, request: Any) -> str | None:
    """The namespace a request names ("" = global), or None for a method without one."""
    return str(request.session_id) if rule.namespaced else None
