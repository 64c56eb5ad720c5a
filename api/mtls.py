"""Serving the app with SITHS login: uvicorn with mTLS, or plain HTTP behind a trusted TLS-terminating proxy (D7).

uvicorn does not put the client certificate into the ASGI scope (STACK.md §5); the protocol subclasses below do, as
``scope["extensions"]["tls"]["client_cert_chain"]``, and record the TCP peer (``npo.transport``) for the proxy check.

A missing or foreign certificate must get a clear page, not a dropped connection. Python's ssl module has no verify
callback (CPython issue #75425), so with a plain ``SSLContext`` a certificate from another CA fails the handshake
and the browser shows only its own error. Two stdlib-only steps through ``ctypes`` into the libssl that ``_ssl``
uses fix that (docs/siths.md explains the choice):

* the SITHS CA names are advertised in the CertificateRequest (``SSL_CTX_set_client_CA_list``), so browsers offer
  only matching certificates;
* a verify callback that accepts every certificate at the TLS layer (``SSL_CTX_set_verify``): the handshake still
  proves possession of the private key, and api.siths verifies chain, validity, usage and HSA-ID and answers with a
  page. When the hook cannot be installed (another Python build), OpenSSL verifies against the SITHS CA instead and
  a foreign certificate ends the handshake; expired SITHS certificates still reach the page (NO_CHECK_TIME).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from api.siths import PEER_EXTENSION
from kernel.settings import Settings

log = logging.getLogger("npo.mtls")
_supervisor_log = logging.getLogger("uvicorn.error")  # configured by uvicorn: the supervisor's lines beside its own

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
X509_V_FLAG_NO_CHECK_TIME = 0x200000  # OpenSSL: do not check validity times (the app does, with a clear page)
SSL_VERIFY_PEER = 0x01
# uvicorn's supervisor kills a worker that does not answer its ping in time; importing the app takes a worker
# several seconds on a loaded machine (while it holds the GIL), and 5 s (uvicorn's default) killed every one.
WORKER_HEALTHCHECK = 60

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class MtlsConfigError(ValueError):
    """The mTLS listener lacks a certificate file; the message names the setting."""


class ForeignCertificates(StrEnum):
    """What the TLS layer does with a client certificate that does not chain to the SITHS CA."""

    PAGE = "page"  # accept at TLS, refuse in the app with a page (needs the libssl hook)
    HANDSHAKE = "handshake"  # OpenSSL refuses it: the connection ends during the handshake


@dataclass(frozen=True)
class ServerTls:
    """The listener's SSL context and what it could be made to do."""

    context: ssl.SSLContext
    foreign: ForeignCertificates
    advertises_ca_names: bool


# ---------------------------------------------------------------------- the ASGI scope
def _tls_extension(transport: Any) -> dict[str, Any] | None:
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)  # present whenever the client sent one (CERT_OPTIONAL)
    return {"server_cert": None, "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None, "client_cert_error": None,
            "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""), "cipher_suite": None}


class _ScopeMixin:
    """Put the TLS extension and the TCP peer into every request scope of the connection."""

    app: ASGIApp

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]  # a mixin: uvicorn's protocol class comes after it
        extensions: dict[str, Any] = {PEER_EXTENSION: {"peer": transport.get_extra_info("peername")}}
        tls = _tls_extension(transport)
        if tls is not None:
            extensions["tls"] = tls
        inner = self.app

        async def app_with_extensions(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                scope = {**scope, "extensions": {**(scope.get("extensions") or {}), **extensions}}
            await inner(scope, receive, send)

        self.app = app_with_extensions


class MTLSH11Protocol(_ScopeMixin, H11Protocol):
    """h11 with the client certificate in the scope."""


class MTLSHttpToolsProtocol(_ScopeMixin, HttpToolsProtocol):
    """httptools with the client certificate in the scope."""


# ---------------------------------------------------------------------- libssl hooks
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


@_VERIFY_CALLBACK
def _accept_any(_preverify_ok: int, _store: int | None) -> int:
    """OpenSSL verify callback: let every client certificate through; api.siths decides."""
    return 1


def _libssl() -> ctypes.CDLL:
    """The libssl the ssl module itself uses (symbols resolved through _ssl's own dependencies)."""
    import _ssl

    lib = ctypes.CDLL(_ssl.__file__)
    lib.SSL_CTX_get_verify_mode.argtypes, lib.SSL_CTX_get_verify_mode.restype = [ctypes.c_void_p], ctypes.c_int
    lib.SSL_CTX_set_verify.argtypes, lib.SSL_CTX_set_verify.restype = [ctypes.c_void_p, ctypes.c_int,
                                                                       _VERIFY_CALLBACK], None
    lib.SSL_load_client_CA_file.argtypes, lib.SSL_load_client_CA_file.restype = [ctypes.c_char_p], ctypes.c_void_p
    lib.SSL_CTX_set_client_CA_list.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.SSL_CTX_set_client_CA_list.restype = None
    return lib


def _ssl_ctx_pointer(context: ssl.SSLContext, lib: ctypes.CDLL) -> int | None:
    """The SSL_CTX* of a CPython SSLContext (the first field after PyObject_HEAD), checked before use."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        return None
    saved = context.verify_mode
    try:
        for mode, expected in ((ssl.CERT_REQUIRED, 3), (ssl.CERT_OPTIONAL, 1)):
            context.verify_mode = mode
            if lib.SSL_CTX_get_verify_mode(pointer) != expected:
                return None
    finally:
        context.verify_mode = saved
    return pointer


def _hook(context: ssl.SSLContext, ca_file: Path, *, accept_any: bool) -> tuple[bool, bool]:
    """Advertise the CA names and (optionally) accept any client certificate; returns what succeeded."""
    if sys.implementation.name != "cpython":
        log.warning("inte CPython: OpenSSL verifierar klientcertifikaten själv")
        return False, False
    try:
        lib = _libssl()
        pointer = _ssl_ctx_pointer(context, lib)
    except (OSError, AttributeError) as exc:
        log.warning("libssl kunde inte nås (%s); OpenSSL verifierar klientcertifikaten själv", exc)
        return False, False
    if pointer is None:
        log.warning("SSLContext har okänd layout; OpenSSL verifierar klientcertifikaten själv")
        return False, False
    names = lib.SSL_load_client_CA_file(str(ca_file).encode())
    if names:
        lib.SSL_CTX_set_client_CA_list(pointer, names)  # takes ownership of the list
    if accept_any:
        lib.SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, _accept_any)  # CPython keeps this callback on later changes
    return bool(names), accept_any


# ---------------------------------------------------------------------- SSL context and servers
def _required(settings: Settings) -> tuple[Path, Path, Path]:
    missing = [name for name, value in (("NPO_SITHS_CA_FILE", settings.siths_ca_file),
                                        ("NPO_TLS_CERT_FILE", settings.tls_cert_file),
                                        ("NPO_TLS_KEY_FILE", settings.tls_key_file)) if not value]
    if missing:
        raise MtlsConfigError(f"mTLS kräver {', '.join(missing)} (i utvecklingsmiljön fyller `npo certs serve` i "
                              "utvecklings-CA:ns filer).")
    assert settings.siths_ca_file and settings.tls_cert_file and settings.tls_key_file
    return settings.siths_ca_file, settings.tls_cert_file, settings.tls_key_file


def server_tls(settings: Settings, foreign: ForeignCertificates = ForeignCertificates.PAGE) -> ServerTls:
    """The listener's context: server certificate, client certificate requested but optional, SITHS CA trusted."""
    ca_file, cert_file, key_file = _required(settings)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.load_verify_locations(cafile=str(ca_file))
    context.verify_mode = ssl.CERT_OPTIONAL  # no certificate: the app answers with a page
    context.verify_flags |= X509_V_FLAG_NO_CHECK_TIME  # expired SITHS certificates: the app answers with a page
    advertised, accepts_any = _hook(context, ca_file, accept_any=foreign is ForeignCertificates.PAGE)
    return ServerTls(context, ForeignCertificates.PAGE if accepts_any else ForeignCertificates.HANDSHAKE, advertised)


def _context_in_process(settings: Settings, foreign: ForeignCertificates, _config: uvicorn.Config,
                        _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """uvicorn's ssl_context_factory for a worker process: each builds (and hooks) its own context."""
    return server_tls(settings, foreign).context


def mtls_config(app: ASGIApp | str, settings: Settings, *, host: str | None = None, port: int | None = None,
                foreign: ForeignCertificates = ForeignCertificates.PAGE, http: str = "httptools",
                workers: int = 1, **uvicorn_options: Any) -> tuple[uvicorn.Config, ServerTls]:
    """A uvicorn config serving ``app`` with mTLS on ``settings.overview_port`` (and the TLS it got). With
    ``workers`` > 1, ``app`` is an app factory's import string ("module:function"): each worker process imports it
    and builds its own SSL context (a context cannot cross processes)."""
    tls = server_tls(settings, foreign)
    protocol = MTLSH11Protocol if http == "h11" else MTLSHttpToolsProtocol
    factory = (functools.partial(_context_in_process, settings, tls.foreign) if workers > 1
               else lambda _config, _default: tls.context)
    config = uvicorn.Config(app, host=host or settings.web_host, port=port or settings.overview_port, http=protocol,
                            ssl_context_factory=factory, proxy_headers=False, workers=workers,
                            factory=isinstance(app, str), timeout_worker_healthcheck=WORKER_HEALTHCHECK,
                            **uvicorn_options)
    return config, tls


def proxied_config(app: ASGIApp | str, settings: Settings, *, host: str | None = None, port: int | None = None,
                   http: str = "httptools", workers: int = 1, **uvicorn_options: Any) -> uvicorn.Config:
    """A uvicorn config for plain HTTP behind a TLS-terminating proxy that forwards the verified certificate."""
    protocol = MTLSH11Protocol if http == "h11" else MTLSHttpToolsProtocol
    return uvicorn.Config(app, host=host or settings.web_host, port=port or settings.web_port, http=protocol,
                          proxy_headers=True, forwarded_allow_ips=list(settings.trusted_proxies) or "",
                          workers=workers, factory=isinstance(app, str),
                          timeout_worker_healthcheck=WORKER_HEALTHCHECK, **uvicorn_options)


def plain_config(app: ASGIApp | str, settings: Settings, *, host: str | None = None, port: int | None = None,
                 workers: int = 1, **uvicorn_options: Any) -> uvicorn.Config:
    """A uvicorn config for the plain listener (the admin pages and the dev login on ``settings.web_port``): no
    certificate is read from it and no proxy is trusted."""
    return uvicorn.Config(app, host=host or settings.web_host, port=port or settings.web_port, proxy_headers=False,
                          workers=workers, factory=isinstance(app, str),
                          timeout_worker_healthcheck=WORKER_HEALTHCHECK, **uvicorn_options)


def _own_socket(config: uvicorn.Config) -> socket.socket:
    """A listening socket for one worker, bound to the config's address with SO_REUSEPORT beside its siblings'."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class Supervisor(Multiprocess):
    """uvicorn's supervisor (a worker that dies or stops answering is started again), but each worker listens on a
    socket of its own, bound with SO_REUSEPORT, so the kernel spreads new connections over the workers (D-63).

    With one shared socket, the worker whose event loop woke first accepted a whole burst of connections: in
    bench/gate.py one of two workers held all 32 kept-alive clients and the other none. The supervisor keeps no
    listening socket itself: one left open here would be handed connections that no worker accepts."""

    def _started(self) -> Process:
        sock = _own_socket(self.config)
        try:
            process = Process(self.config, [sock])
            process.start()
        finally:
            sock.close()  # the worker has its own descriptor now
        return process

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            self.processes.append(self._started())

    def restart_all(self) -> None:
        """SIGHUP: each worker replaced in turn, the new one serving before the old one stops."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._started()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    _supervisor_log.error("ny webbprocess [%s] blev inte klar i tid; [%s] får fortsätta",
                                          new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or gone
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app, TLS or bind is broken: a restart fails the same way
                _supervisor_log.error("webbprocessen [%s] kunde inte starta; hela lyssnaren stoppas", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            _supervisor_log.info("webbprocessen [%s] dog och startas om", process.pid)
            self.processes[index] = self._started()


def _run(config: uvicorn.Config) -> None:
    """One process, or :class:`Supervisor` over ``config.workers`` processes on one port. The port is tried first
    without SO_REUSEPORT, so a port another program holds is a clear error here and not N failing workers."""
    if config.workers > 1:
        try:
            socket.create_server((config.host, config.port), family=socket.AF_INET6 if ":" in config.host
                                 else socket.AF_INET).close()
        except OSError as exc:
            raise SystemExit(f"Port {config.port} på {config.host} kan inte användas: {exc.strerror}") from exc
        Supervisor(config, sockets=[]).run()
    else:
        uvicorn.Server(config).run()


def serve_mtls(app: ASGIApp | str, settings: Settings, **options: Any) -> None:
    """Run ``app`` with mTLS until stopped (``workers=N``: N processes, ``app`` an import string)."""
    config, tls = mtls_config(app, settings, **options)
    logging.getLogger("uvicorn.error").info(
        "SITHS mTLS på port %s: främmande certifikat %s; SITHS-CA:ns namn %s; %d process(er)", config.port,
        "får en sida" if tls.foreign is ForeignCertificates.PAGE else "stoppas i TLS-handskakningen",
        "annonseras" if tls.advertises_ca_names else "annonseras inte", config.workers)
    _run(config)


def serve_proxied(app: ASGIApp | str, settings: Settings, **options: Any) -> None:
    """Run ``app`` as plain HTTP for a trusted proxy until stopped."""
    _run(proxied_config(app, settings, **options))


def serve_plain(app: ASGIApp | str, settings: Settings, **options: Any) -> None:
    """Run ``app`` as the plain listener until stopped."""
    _run(plain_config(app, settings, **options))
