"""A local OCSP responder for the dev CA (issue 16): `openssl ocsp` answering from the CA's index.txt, as SITHS
answers for its cards by OCSP.

How fresh an answer is, end to end (what makes a revoked card refused within a minute, without reloading nginx):

- ``DevCA.revoke`` rewrites index.txt (a new file renamed into place) in the same call that re-signs the CRL.
- `openssl ocsp` (3.0) stats index.txt before waiting for each connection, so a change is seen only after the *next*
  request has been answered from the old index. :class:`IndexWatcher` sends that request itself as soon as the file
  changes (polled every ``WATCH_SECONDS``): the next real question already gets the new status.
- Every answer says nextUpdate = thisUpdate + ``next_update_minutes`` (``-nmin``, default 1), and nginx keeps a status
  in its ``ssl_ocsp_cache`` exactly until nextUpdate: a card seen as good just before its revocation is refused at
  the latest a minute (plus a watcher poll) later, a card not seen in that minute at once.

Limits of `openssl ocsp` (3.0), fine for the dev stack and the cluster tests: ``-port`` takes a port number only and
listens on every address (the answers are public, signed statements about serial numbers); it serves one connection
at a time, and a connection that sends nothing blocks it (``-timeout`` does not cover that), after which nginx
refuses every login whose status is not cached. Keep the port closed at the host's firewall.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from npo.certs import DevCA

WATCH_SECONDS = 0.25  # how often IndexWatcher looks at index.txt
START_SECONDS = 15.0


class OcspError(RuntimeError):
    """The responder did not start or did not answer."""


@dataclass(frozen=True)
class CardStatus:
    """What an OCSP responder says about one certificate."""

    status: str  # "good", "revoked" or "unknown"
    revoked_at: dt.datetime | None
    this_update: dt.datetime
    next_update: dt.datetime | None


def query(url: str, cert: x509.Certificate, issuer: x509.Certificate, *, timeout: float = 5.0) -> CardStatus:
    """Ask the responder at ``url`` about ``cert`` (issued by ``issuer``): one POST, as nginx asks."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    reply = httpx.post(url, content=request.public_bytes(serialization.Encoding.DER), timeout=timeout,
                       headers={"Content-Type": "application/ocsp-request"})
    answer = ocsp.load_der_ocsp_response(reply.content)
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspError(f"OCSP-svaret var {answer.response_status.name}")
    return CardStatus(answer.certificate_status.name.lower(), answer.revocation_time_utc, answer.this_update_utc,
                      answer.next_update_utc)


class IndexWatcher:
    """Makes `openssl ocsp` reload index.txt as soon as it changes: one throwaway question after each change."""

    def __init__(self, index: Path, url: str, probe: tuple[x509.Certificate, x509.Certificate]):
        self.index, self.url, self.probe = index, url, probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ocsp-index-watcher", daemon=True)
        self._passed_on = self._signature()  # the index as the responder has it (it reads the file at start)

    def start(self) -> None:
        """Watch in a daemon thread until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def caught_up(self) -> bool:
        """True when the responder answers from index.txt as it is on disk now."""
        return self._passed_on == self._signature()

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            found = self.index.stat()
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns, found.st_size

    def _run(self) -> None:
        while not self._stop.wait(WATCH_SECONDS):
            now = self._signature()
            if now == self._passed_on:
                continue
            try:
                query(self.url, *self.probe, timeout=2)  # answered from the old index; the responder reloads after
            except (httpx.HTTPError, OcspError, ValueError):
                continue  # not answering: try again at the next poll
            self._passed_on = now


class OcspResponder:
    """`openssl ocsp` for the dev CA's index.txt on ``port``, signed by the CA's OCSP certificate, kept fresh."""

    def __init__(self, ca: DevCA, *, port: int, log: Path, next_update_minutes: int = 1,
                 openssl: str = "openssl"):
        self.ca, self.port, self.log = ca, port, log
        self.next_update_minutes = next_update_minutes
        self.openssl = shutil.which(openssl) or openssl
        self.process: subprocess.Popen[bytes] | None = None
        self.watcher: IndexWatcher | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The responder's command line (index and signer created when missing)."""
        signer_cert, signer_key = self.ca.ocsp_signer()
        return [self.openssl, "ocsp", "-index", str(self.ca.ocsp_index()), "-port", str(self.port),
                "-rsigner", str(signer_cert), "-rkey", str(signer_key), "-CA", str(self.ca.cert_path),
                "-nmin", str(self.next_update_minutes),
                "-ignore_err"]  # a malformed request would otherwise end the responder

    def start(self, timeout: float = START_SECONDS) -> OcspResponder:
        """Start the responder and its index watcher; return once it answers."""
        command = self.command()
        signer = x509.load_pem_x509_certificate(self.ca.ocsp_signer()[0].read_bytes())
        # the watcher notes the file before the responder reads it: a change in between is passed on too
        watcher = IndexWatcher(self.ca.index_path, self.url, (signer, self.ca.cert))
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self._wait_until_answering(signer, timeout)
        self.watcher = watcher
        watcher.start()
        return self

    def _wait_until_answering(self, signer: x509.Certificate, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise OcspError(f"openssl ocsp slutade (kod {self.process.returncode}): {self._log_tail()}")
            try:
                query(self.url, signer, self.ca.cert, timeout=2)  # not a bare connect: see the module's doc
                return
            except (httpx.HTTPError, OcspError, ValueError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise OcspError(f"openssl ocsp svarar inte på port {self.port}: {self._log_tail()}") from None
                time.sleep(0.05)

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watcher and the responder (SIGTERM, then SIGKILL)."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """End the responder at once (a crash, for tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> OcspResponder:
        return self if self.running else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
