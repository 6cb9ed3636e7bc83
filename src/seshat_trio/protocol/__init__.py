"""RESP codec, sans-IO (the model is h11): request bytes in, commands out; replies in, bytes out.

No sockets, no clock, no tasks: the server layer moves bytes, this package only transforms
them. `RequestParser` reads RESP2 multibulk and inline requests exactly as Redis 7.0 does
(error texts included); `encode_reply` / `encode_replies` write RESP2 or RESP3 replies.
"""

from seshat_trio.protocol.encoder import encode_replies, encode_reply
from seshat_trio.protocol.errors import ProtocolError, RequestTooLarge, RespError
from seshat_trio.protocol.inline import split_inline
from seshat_trio.protocol.limits import DEFAULT_LIMITS, ParserLimits
from seshat_trio.protocol.parser import RequestParser
from seshat_trio.protocol.replies import (
    NULL_ARRAY,
    BigNumber,
    ErrorReply,
    NullArray,
    OrderedSet,
    Pairs,
    Push,
    RawReplies,
    Reply,
    SimpleString,
    Verbatim,
)
from seshat_trio.protocol.reply_split import split_replies

__all__ = [
    "DEFAULT_LIMITS",
    "NULL_ARRAY",
    "BigNumber",
    "ErrorReply",
    "NullArray",
    "OrderedSet",
    "Pairs",
    "ParserLimits",
    "ProtocolError",
    "Push",
    "RawReplies",
    "Reply",
    "RequestParser",
    "RequestTooLarge",
    "RespError",
    "SimpleString",
    "Verbatim",
    "encode_replies",
    "encode_reply",
    "split_inline",
    "split_replies",
]
