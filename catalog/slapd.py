"""The managed OpenLDAP slapd that embeds Skånekatalogen for `make run` and the tests.

One instance lives in one folder (``var/ldap`` by default): its generated ``slapd.conf``, its MDB data, a pidfile
and a credentials file (mode 0600) holding the generated admin and application passwords. The application binds as
``cn=npo-app,ou=System,<base>``, which the config gives write access and no size limit; anonymous users see nothing.
"""

from __future__ import annotations

import base64
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
from dataclasses import dataclass
from pathlib import Path

from catalog.ldapconn import DirectoryConfig

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
                 durable: bool = False):
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.base = base
        # dbnosync trades crash durability of the embedded dev/test data for ~2x faster writes (STACK.md §3).
        self.durable = durable

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

    def credentials(self) -> dict[str, str]:
        """The admin and application passwords, generated on first use and kept in a 0600 file."""
        if self.credentials_path.exists():
            return json.loads(self.credentials_path.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        creds = {"admin": secrets.token_urlsafe(18), "app": secrets.token_urlsafe(18)}
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
        indexes = "\n".join(f"index {line}" for line in INDEXES)
        return f"""# generated by npo-access (catalog/slapd.py); edits are overwritten at start
{includes}
include {SCHEMA_FILE}

pidfile {self.pid_path}
argsfile {self.root / 'slapd.args'}
loglevel none
modulepath /usr/lib/ldap
moduleload back_mdb

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
"""

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
        self.conf_path.write_text(self.render_config())
        result = subprocess.run([find_binary("slaptest"), "-u", "-f", str(self.conf_path)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SlapdError(f"slaptest rejected {self.conf_path}: {result.stderr.strip() or result.stdout.strip()}")

    def initialise(self) -> None:
        """Load the base entries offline with slapadd (only into an empty instance)."""
        if self.initialised:
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
