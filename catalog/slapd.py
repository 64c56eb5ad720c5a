"""The managed OpenLDAP slapd that embeds Skånekatalogen for `make run` and the tests.

One instance lives in one folder (``var/ldap`` by default): its generated ``slapd.conf``, its MDB data, a pidfile
and a credentials file (mode 0600) holding the generated admin and application passwords. The application binds as
``cn=npo-app,ou=System,<base>``, which the config gives write access and no size limit; anonymous users see nothing.

Two instances can form a multi-provider pair (OpenLDAP 2.5's name for mirror mode; the cluster profile, issue 16):
each has a ``server_id`` and names the other in ``peers``, both share one set of credentials, and only the first is
seeded with the base entries; the second gets everything by syncrepl (`start_provider_pair`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from catalog.ldapconn import DirectoryConfig, DirectoryError, LdapSession

SCHEMA_FILE = Path(__file__).parent / "schema" / "npo-hsa.schema"
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson")
DEFAULT_BASE = "c=SE"

# Attributes the application filters on; each gets an equality index (names also substring, for staff search).
INDEXES = (
    "objectClass eq",
    "hsaIdentity eq",
    "personalIdentityNumber eq",
    "hsaHealthCareUnitManager eq",
    "hsaResponsibleHealthCareProvider eq",
    "hsaCommissionMember eq",
    "hsaCommissionPurpose eq",
    "npoRoleMember eq",
    "npoRoleName eq",
    "npoPersonStatus eq",
    "cn,givenName,sn eq,sub",
)
# syncrepl looks entries up by these when it applies a provider's changes.
REPLICATION_INDEX = "entryCSN,entryUUID eq"


class SlapdError(RuntimeError):
    """The managed slapd could not be configured, started or stopped; the message says why."""


@dataclass(frozen=True)
class SlapdStatus:
    """What ``npo catalog status`` reports."""

    running: bool
    pid: int | None
    url: str
    root: Path
    initialised: bool


def _ssha(password: str) -> str:
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _pid_alive(pid: int) -> bool:
    # PID 1 here reaps slowly, so a dead process can linger as a zombie: read its state instead of kill -0.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    for line in status.splitlines():
        if line.startswith("State:"):
            return "Z" not in line.split()[1]
    return True


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def find_binary(name: str) -> str:
    """Path of an OpenLDAP server tool (slapd, slapadd, slaptest), which Debian puts in /usr/sbin."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise SlapdError(f"{name} is not installed; run `make setup` (it installs Debian's slapd and ldap-utils).")
    return found


class ManagedSlapd:
    """A private slapd instance under ``root``, listening on ``ldap://host:port/``."""

    def __init__(self, root: Path, *, port: int, host: str = "127.0.0.1", base: str = DEFAULT_BASE,
                 durable: bool = False, server_id: int | None = None, peers: Sequence[str] = (),
                 credentials: Mapping[str, str] | None = None, seed: bool = True):
        """``server_id`` and ``peers`` (ldap:// URLs of the other providers) turn on multi-provider replication;
        ``credentials`` gives the passwords a pair shares; ``seed=False`` leaves the base entries to replication."""
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.base = base
        # dbnosync trades crash durability of the embedded dev/test data for ~2x faster writes (STACK.md §3).
        self.durable = durable
        if peers and server_id is None:
            raise SlapdError("A replicating slapd needs a server_id (1-4095) besides its peers.")
        if server_id is not None and not 1 <= server_id <= 4095:
            raise SlapdError(f"server_id {server_id} is outside 1-4095.")
        self.server_id = server_id
        self.peers = tuple(peer.rstrip("/") for peer in peers)
        self._given_credentials = dict(credentials) if credentials is not None else None
        self.seed = seed

    # ------------------------------------------------------------------ paths and credentials
    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    @property
    def admin_dn(self) -> str:
        return f"cn=admin,{self.base}"

    @property
    def app_dn(self) -> str:
        return f"cn=npo-app,ou=System,{self.base}"

    @property
    def conf_path(self) -> Path:
        return self.root / "slapd.conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def pid_path(self) -> Path:
        return self.root / "slapd.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "slapd.log"

    @property
    def credentials_path(self) -> Path:
        return self.root / "credentials.json"

    @property
    def replicating(self) -> bool:
        return bool(self.peers)

    def credentials(self) -> dict[str, str]:
        """The admin and application passwords, generated (or given) on first use and kept in a 0600 file."""
        if self.credentials_path.exists():
            stored: dict[str, str] = json.loads(self.credentials_path.read_text())
            if self._given_credentials is not None and stored != self._given_credentials:
                raise SlapdError(f"{self.credentials_path} holds other passwords than the ones given for this "
                                 "replicated instance; a provider pair must share its credentials.")
            return stored
        self.root.mkdir(parents=True, exist_ok=True)
        creds = self._given_credentials or {"admin": secrets.token_urlsafe(18), "app": secrets.token_urlsafe(18)}
        fd = os.open(self.credentials_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(creds, handle)
        return creds

    def app_config(self) -> DirectoryConfig:
        """Connection settings for the application's bind."""
        return DirectoryConfig(url=self.url, base=self.base, bind_dn=self.app_dn, password=self.credentials()["app"])

    def admin_config(self) -> DirectoryConfig:
        """Connection settings for the rootdn (tests and tools only)."""
        return DirectoryConfig(url=self.url, base=self.base, bind_dn=self.admin_dn,
                               password=self.credentials()["admin"])

    # ------------------------------------------------------------------ configuration
    def render_config(self) -> str:
        """The slapd.conf text for this instance."""
        creds = self.credentials()
        includes = "\n".join(f"include {self._system_schema(name)}" for name in SYSTEM_SCHEMAS)
        replication_index = (REPLICATION_INDEX,) if self.replicating else ()
        indexes = "\n".join(f"index {line}" for line in INDEXES + replication_index)
        server_id = f"serverID {self.server_id}\n" if self.replicating else ""
        syncprov = "moduleload syncprov\n" if self.replicating else ""
        return f"""# generated by npo-access (catalog/slapd.py); edits are overwritten at start
{includes}
include {SCHEMA_FILE}

pidfile {self.pid_path}
argsfile {self.root / 'slapd.args'}
loglevel none
{server_id}modulepath /usr/lib/ldap
moduleload back_mdb
{syncprov}
database mdb
maxsize 8589934592
suffix "{self.base}"
rootdn "{self.admin_dn}"
rootpw {_ssha(creds['admin'])}
directory {self.data_dir}
{'' if self.durable else 'dbnosync'}
{indexes}

# The application's bind has no size or time limit; it pages its searches anyway.
limits dn.exact="{self.app_dn}" size=unlimited time=unlimited

access to attrs=userPassword
    by self =xw
    by anonymous auth
    by * none
access to *
    by dn.exact="{self.app_dn}" write
    by * none
{self._replication_config()}"""

    def _replication_config(self) -> str:
        """The mdb database's syncrepl consumers (one per peer) and its syncprov provider overlay, or nothing."""
        if not self.replicating:
            return ""
        admin_pw = self.credentials()["admin"]
        consumers = "".join(
            f'syncrepl rid={rid:03d} provider={peer} bindmethod=simple binddn="{self.admin_dn}" '
            f'credentials="{admin_pw}" searchbase="{self.base}" type=refreshAndPersist retry="1 +" timeout=3 '
            f"schemachecking=off\n"
            for rid, peer in enumerate(self.peers, start=1))
        # Checkpoint the contextCSN every 100 writes or 5 minutes, so a restart resumes syncrepl where it stopped.
        return f"\n{consumers}multiprovider on\n\noverlay syncprov\nsyncprov-checkpoint 100 5\n"

    @staticmethod
    def _system_schema(name: str) -> str:
        for folder in ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema"):
            path = Path(folder) / f"{name}.schema"
            if path.exists():
                return str(path)
        raise SlapdError(f"OpenLDAP's {name}.schema was not found; install Debian's slapd (make setup).")

    def base_ldif(self) -> str:
        """The entries every instance starts with: the base, the system account and the roles container."""
        suffix_attr, suffix_value = self.base.split(",")[0].split("=", 1)
        top = f"dn: {self.base}\nobjectClass: country\n{suffix_attr}: {suffix_value}\n"
        if suffix_attr.lower() != "c":
            top = (f"dn: {self.base}\nobjectClass: organization\nobjectClass: dcObject\no: npo\n"
                   f"{suffix_attr}: {suffix_value}\n")
        return (
            f"{top}\n"
            f"dn: ou=System,{self.base}\nobjectClass: organizationalUnit\nou: System\n\n"
            f"dn: {self.app_dn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
            f"cn: npo-app\nuserPassword: {_ssha(self.credentials()['app'])}\n"
            f"description: npo-access application account\n\n"
            f"dn: ou=Roller,{self.base}\nobjectClass: organizationalUnit\nou: Roller\n"
            f"description: Beställnings- och attestköer samt administratörsroller\n"
        )

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "data.mdb").exists()

    def write_config(self) -> None:
        """Write slapd.conf and check it with slaptest."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if self.replicating:  # the syncrepl lines hold the admin password in clear text
            self.conf_path.touch(mode=0o600)
            self.conf_path.chmod(0o600)
        self.conf_path.write_text(self.render_config())
        result = subprocess.run([find_binary("slaptest"), "-u", "-f", str(self.conf_path)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SlapdError(f"slaptest rejected {self.conf_path}: {result.stderr.strip() or result.stdout.strip()}")

    def initialise(self) -> None:
        """Load the base entries offline with slapadd (only into an empty instance, and only when seeding)."""
        if self.initialised or not self.seed:
            return
        with tempfile.NamedTemporaryFile("w", suffix=".ldif", delete=False) as handle:
            handle.write(self.base_ldif())
        try:
            result = subprocess.run([find_binary("slapadd"), "-q", "-f", str(self.conf_path), "-l", handle.name],
                                    capture_output=True, text=True)
        finally:
            os.unlink(handle.name)
        if result.returncode != 0:
            raise SlapdError(f"slapadd could not load the base entries: {result.stderr.strip()}")

    # ------------------------------------------------------------------ process control
    def pid(self) -> int | None:
        """The pid of the running slapd, or None (a stale pidfile is removed)."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _pid_alive(pid):
            return pid
        self.pid_path.unlink(missing_ok=True)
        return None

    def status(self) -> SlapdStatus:
        """Whether the instance runs, and where."""
        pid = self.pid()
        return SlapdStatus(running=pid is not None, pid=pid, url=self.url, root=self.root,
                           initialised=self.initialised)

    def start(self, timeout: float = 15.0) -> bool:
        """Start slapd unless it already runs; True when this call started it."""
        if self.pid() is not None:
            return False
        if _port_open(self.host, self.port):
            raise SlapdError(f"Port {self.port} on {self.host} is already taken by another program; "
                             "set NPO_LDAP_PORT to a free port.")
        self.write_config()
        self.initialise()
        result = subprocess.run([find_binary("slapd"), "-f", str(self.conf_path), "-h", self.url + "/"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SlapdError(f"slapd did not start: {result.stderr.strip() or 'exit code ' + str(result.returncode)}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and _port_open(self.host, self.port):
                return True
            time.sleep(0.02)
        raise SlapdError(f"slapd did not answer on {self.url} within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop slapd if it runs; True when this call stopped it."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid) and not _port_open(self.host, self.port):
                self.pid_path.unlink(missing_ok=True)
                return True
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        self.pid_path.unlink(missing_ok=True)
        return True

    def destroy(self) -> None:
        """Stop and remove the whole instance folder (tests)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_for_base(self, timeout: float = 15.0) -> None:
        """Wait until this instance holds its base entry (a replica that was not seeded gets it by syncrepl)."""
        session = LdapSession(self.admin_config())
        deadline = time.monotonic() + timeout
        try:
            while True:
                with contextlib.suppress(DirectoryError):  # not answering yet, or the base not replicated yet
                    if session.read(self.base, ["objectClass"]) is not None:
                        return
                if time.monotonic() > deadline:
                    raise SlapdError(f"{self.url} did not receive {self.base} by replication within {timeout:.0f} s")
                time.sleep(0.05)
        finally:
            session.close()


def start_provider_pair(root: Path, ports: tuple[int, int], *, host: str = "127.0.0.1", base: str = DEFAULT_BASE,
                        timeout: float = 15.0) -> tuple[ManagedSlapd, ManagedSlapd]:
    """Create and start two providers replicating each other under ``root``; return once both hold the base.

    Only the first is seeded: a second seeded copy would hold the same DNs under other entryUUIDs, which
    syncrepl cannot reconcile. The second shares the first's credentials, so syncrepl binds and one app config
    works on both.
    """
    first_port, second_port = ports
    first = ManagedSlapd(Path(root) / "provider1", port=first_port, host=host, base=base, server_id=1,
                         peers=[f"ldap://{host}:{second_port}"])
    second = ManagedSlapd(Path(root) / "provider2", port=second_port, host=host, base=base, server_id=2,
                          peers=[first.url], credentials=first.credentials(), seed=False)
    first.start(timeout)
    try:
        second.start(timeout)
        second.wait_for_base(timeout)
    except SlapdError:
        second.stop()
        first.stop()
        raise
    return first, second
