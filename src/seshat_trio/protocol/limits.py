"""Request-size limits enforced by the request parser (Redis's names in the comments)."""

from __future__ import annotations

import attrs

INT_MAX = 2**31 - 1
"""Redis rejects a multibulk count above C's INT_MAX whatever the configured cap."""


@attrs.frozen(slots=True)
class ParserLimits:
    """Limits that turn oversized requests into protocol errors before their data arrives."""

    # proto-max-bulk-len: the largest single argument of a multibulk request.
    max_bulk_len: int = attrs.field(default=512 * 1024 * 1024, validator=attrs.validators.ge(0))
    # Redis only has the INT_MAX rule; a smaller cap bounds the argv a client can make us build.
    max_multibulk_len: int = attrs.field(
        default=1024 * 1024,
        validator=[attrs.validators.ge(1), attrs.validators.le(INT_MAX)],
    )
    # PROTO_INLINE_MAX_SIZE: the longest inline line and the longest `*`/`$` header line.
    max_inline_len: int = attrs.field(default=64 * 1024, validator=attrs.validators.ge(1))
    # client-query-buffer-limit, per request: the arguments of one multibulk request. The
    # declared lengths are checked while the request is incomplete, so a client cannot make
    # a connection hold more than this (plus one read) before it is refused.
    max_request_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=attrs.validators.ge(1))


DEFAULT_LIMITS = ParserLimits()
