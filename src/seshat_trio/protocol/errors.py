"""Errors raised by the RESP codec.

`ProtocolError` carries Redis's exact wording (the text after "ERR "), so the connection
layer can answer ``-ERR <str(error)>`` and then close the connection, as Redis does.
"""

from __future__ import annotations


class RespError(Exception):
    """Base class of every error the RESP codec raises."""


class ProtocolError(RespError):
    """The client broke the request protocol; the error is terminal for the connection.

    ``str(error)`` is Redis's text without the "ERR " code word, for example
    ``"Protocol error: invalid multibulk length"``. A parser that raised it stays failed:
    every later `feed` or `next_command` raises the same error again.
    """


class RequestTooLarge(ProtocolError):
    """A request declared more argument bytes than limits.max_request_bytes allows."""
