"""ListFiles page tokens (AIP-158): opaque to callers, bound to the request that made them.

A token carries the path the next page starts after, and a fingerprint of the
namespace and prefix it was made for: a token given with another session or
another prefix is refused (INVALID_ARGUMENT) rather than silently listing
from a foreign place. Tokens hold no secret and need none: a caller can list
only a namespace it may address anyway, and the path a token names is only
where to resume.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from contextstore.server.store.base import Namespace

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_VERSION = b"\x01"
_FINGERPRINT = 8


class BadPageToken(ValueError):
    """A token this server did not make for this request."""


def page_size(requested: int) -> int:
    """AIP-158: 0 means the default, and a size above the maximum is the maximum."""
    return DEFAULT_PAGE_SIZE if requested == 0 else min(requested, MAX_PAGE_SIZE)


def _fingerprint(ns: Namespace, prefix: str) -> bytes:
    name = b"g" if ns is None else b"s" + ns.encode()
    return hashlib.sha256(name + b"\0" + prefix.encode()).digest()[:_FINGERPRINT]


def make_token(ns: Namespace, prefix: str, after: str) -> str:
    raw = _VERSION + _fingerprint(ns, prefix) + after.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_token(token: str, ns: Namespace, prefix: str) -> str | None:
    """The path to resume after (``None`` for no token), or ``BadPageToken``."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = raw[1 + _FINGERPRINT :].decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadPageToken("not a page token of ListFiles") from None
    if raw[:1] != _VERSION or raw[1 : 1 + _FINGERPRINT] != _fingerprint(ns, prefix):
        raise BadPageToken("from another request: same session_id and path_prefix needed")
    if not after.startswith(prefix):
        raise BadPageToken("not a page token of ListFiles")
    return after
