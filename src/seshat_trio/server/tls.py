"""TLS on the client port: the server context (stdlib `ssl`), rebuilt when its files change.

The context follows Redis's settings: the node's certificate chain and key, and a CA that
client certificates must chain to when `tls_auth_clients` is yes (required) or optional;
TLS 1.2 or later. Certificates are rotated by replacing the files: the next connection
finds a file changed (size or modification time) and gets a context built from the new
ones; connections already open keep theirs. A replacement that does not load (a key that
does not match its certificate, a half-written file) is logged and the previous context
stays in use until the files change again; at start-up it stops the node instead.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from pathlib import Path

import trio

from seshat_trio.config import TlsAuthClients, TlsSection
from seshat_trio.logs import get_logger

log = get_logger(__name__)

#: A client that has not completed its TLS handshake by then is disconnected.
HANDSHAKE_SECONDS = 10.0

_VERIFY = {
    TlsAuthClients.YES: ssl.CERT_REQUIRED,
    TlsAuthClients.OPTIONAL: ssl.CERT_OPTIONAL,
    TlsAuthClients.NO: ssl.CERT_NONE,
}


class TlsSetupError(Exception):
    """The configured certificate, key or CA files cannot be loaded."""


def build_context(tls: TlsSection) -> ssl.SSLContext:
    if tls.tls_cert_file is None or tls.tls_key_file is None:
        raise TlsSetupError("tls.tls_cert_file and tls.tls_key_file are required for TLS")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.tls_cert_file, tls.tls_key_file)
        if tls.tls_ca_cert_file is not None:
            context.load_verify_locations(cafile=tls.tls_ca_cert_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(f"cannot load the TLS certificate, key or CA files: {exc}") from exc
    context.verify_mode = _VERIFY[tls.tls_auth_clients]
    return context


def _stamp(paths: list[Path]) -> tuple[tuple[int, int], ...]:
    stamps = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            stamps.append((-1, -1))
        else:
            stamps.append((info.st_mtime_ns, info.st_size))
    return tuple(stamps)


class TlsContext:
    """The current server context; `current()` reloads it if a file changed."""

    def __init__(self, tls: TlsSection) -> None:
        self._tls = tls
        self._paths = [
            p for p in (tls.tls_cert_file, tls.tls_key_file, tls.tls_ca_cert_file) if p is not None
        ]
        self._loaded = _stamp(self._paths)
        self._context = build_context(tls)  # raises TlsSetupError at start-up

    def current(self) -> ssl.SSLContext:
        stamp = _stamp(self._paths)
        if stamp != self._loaded:
            self._loaded = stamp  # a bad replacement is tried again only once it changes
            try:
                self._context = build_context(self._tls)
            except TlsSetupError as exc:
                log.warning("tls_reload_failed", error=str(exc), note="the previous files stay")
            else:
                log.info("tls_reloaded")
        return self._context


#: A TLS connection being closed gets this long to send its close_notify.
CLOSE_SECONDS = 1.0


class TlsClientStream:
    """A client's `trio.SSLStream` as the connection's byte stream; closing it never waits
    long on a client that stopped reading."""

    __slots__ = ("_stream",)

    def __init__(self, stream: trio.SSLStream[trio.SocketStream]) -> None:
        self._stream = stream

    async def receive_some(self, max_bytes: int) -> bytes:
        data = await self._stream.receive_some(max_bytes)
        return data if isinstance(data, bytes) else bytes(data)

    async def send_all(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def aclose(self) -> None:
        broken = (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError)
        with trio.move_on_after(CLOSE_SECONDS) as scope, contextlib.suppress(*broken):
            await self._stream.aclose()
        if scope.cancelled_caught:
            await trio.aclose_forcefully(self._stream)


async def accept_tls(stream: trio.SocketStream, context: ssl.SSLContext) -> TlsClientStream | None:
    """The client's TLS stream once its handshake completed (None: it failed or timed out,
    and the connection is closed)."""
    tls = trio.SSLStream(stream, context, server_side=True)
    with trio.move_on_after(HANDSHAKE_SECONDS):
        try:
            await tls.do_handshake()
        except trio.BrokenResourceError as exc:
            log.info("tls_handshake_failed", error=str(exc.__cause__ or exc))
        else:
            return TlsClientStream(tls)
    await trio.aclose_forcefully(tls)
    return None
