"""The cluster profile (`npo run --cluster`, issue 16): every part of D9's scale-out as a real engine on loopback.

* Skånekatalogen: two OpenLDAP providers replicating each other (multi-provider, syncrepl each way); every process
  binds through both (an ldap3 server pool: the first that answers, the other when it dies).
* SQL: PostgreSQL for the app and for the Prefect server (two databases on the machine's server).
* Flows: the Prefect server, one process worker for the scheduled deployments and two task workers.
* Web: two web processes (`npo certs serve --behind-proxy`, one port each) behind a private nginx that terminates
  SITHS mTLS (chain, CRL and OCSP against a local `openssl ocsp` responder on the dev CA's index) and serves the
  admin pages as plain HTTP; nginx forwards the verified certificate to the trusted-proxy header (D7).

Each part is a child of the stack as in `make run` (npo/stack.py): logs in var/log/, a dead part started again.
The slapds run as daemons of their own (like the embedded one) and are stopped with the stack.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from catalog.ldapconn import DirectoryConfig
from catalog.slapd import ManagedSlapd, start_provider_pair
from npo.stack import Stack

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/npo_cluster"


class ClusterError(RuntimeError):
    """A part of the cluster profile cannot be set up (the message says what to do)."""


def prefect_database_url(database_url: str) -> str:
    """The Prefect server's database beside the app's: same server, name + ``_prefect``, Prefect's asyncpg driver."""
    url = make_url(database_url)
    return url.set(drivername="postgresql+asyncpg", database=f"{url.database}_prefect").render_as_string(
        hide_password=False)


def _conninfo(params: dict[str, Any]) -> str:
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{key: value for key, value in params.items() if value is not None})


def ensure_database(database_url: str) -> bool:
    """Create the PostgreSQL database of ``database_url`` when it does not exist; whether it was created."""
    import psycopg
    from psycopg import sql

    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        raise ClusterError(f"klusterprofilen kör på PostgreSQL, inte {url.drivername} (sätt NPO_DATABASE_URL)")
    params = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
              "password": url.password, "dbname": "postgres", "connect_timeout": 5}
    try:
        with psycopg.connect(_conninfo(params), autocommit=True) as connection:
            if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone():
                return False
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(url.database))))
            return True
    except psycopg.OperationalError as exc:
        raise ClusterError(f"PostgreSQL på {params['host']}:{params['port']} svarar inte ({exc}); klusterprofilen "
                           "behöver en PostgreSQL-server (sätt NPO_DATABASE_URL)") from exc


def drop_database(database_url: str) -> None:
    """Drop the database of ``database_url`` (tests), ending the sessions still connected to it."""
    import psycopg
    from psycopg import sql

    url = make_url(database_url)
    params = {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
              "password": url.password, "dbname": "postgres"}
    with psycopg.connect(_conninfo(params), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(url.database))))


@dataclass
class ClusterStack(Stack):
    """The stack of npo/stack.py with two directory providers, PostgreSQL, and web processes behind nginx.

    Ports: nginx takes the settings' web port (plain HTTP) and overview port (SITHS mTLS); the providers the LDAP
    port and the next; the web processes and the OCSP responder the ports given here (by default web port + 1, + 2
    and overview port + 1)."""

    web_instance_ports: tuple[int, ...] = ()
    ocsp_port: int = 0
    ldap_ports: tuple[int, int] = (0, 0)
    with_deployments: bool = True  # `prefect deploy --all` and the process worker (tests may leave them out)
    providers: list[ManagedSlapd] = field(default_factory=list)
    started_providers: bool = False

    def __post_init__(self) -> None:
        s = self.settings
        if not self.web_instance_ports:
            self.web_instance_ports = (s.web_port + 1, s.web_port + 2)
        if not self.ocsp_port:
            self.ocsp_port = s.overview_port + 1
        if self.ldap_ports == (0, 0):
            self.ldap_ports = (s.ldap_port, s.ldap_port + 1)
        if not s.database_url:
            self.settings = s.model_copy(update={"database_url": DEFAULT_DATABASE})
        self.web_processes = len(self.web_instance_ports)

    # ------------------------------------------------------------------ addresses
    @property
    def root(self) -> Path:
        return self.settings.var_dir / "cluster"

    @property
    def database_url(self) -> str:
        assert self.settings.database_url  # set in __post_init__
        return self.settings.database_url

    @property
    def prefect_database_url(self) -> str:
        return prefect_database_url(self.database_url)

    @property
    def ldap_urls(self) -> list[str]:
        return [f"ldap://127.0.0.1:{port}" for port in self.ldap_ports]

    @property
    def ocsp_url(self) -> str:
        return f"http://127.0.0.1:{self.ocsp_port}"

    @property
    def web_instances(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.web_instance_ports]

    def pair(self) -> tuple[ManagedSlapd, ManagedSlapd]:
        """The two providers (their folders under var/cluster/ldap), whether running or not."""
        if not self.providers:
            first = ManagedSlapd(self.root / "ldap" / "provider1", port=self.ldap_ports[0],
                                 base=self.settings.ldap_base, server_id=1, peers=[self.ldap_urls[1]])
            second = ManagedSlapd(self.root / "ldap" / "provider2", port=self.ldap_ports[1],
                                  base=self.settings.ldap_base, server_id=2, peers=[self.ldap_urls[0]],
                                  credentials=first.credentials(), seed=False)
            self.providers = [first, second]
        return self.providers[0], self.providers[1]

    def directory_config(self) -> DirectoryConfig:
        """The application's bind on both providers (the first preferred), as every child gets it."""
        first, _second = self.pair()
        return DirectoryConfig(url=" ".join(self.ldap_urls), base=self.settings.ldap_base, bind_dn=first.app_dn,
                               password=first.credentials()["app"])

    def env(self) -> dict[str, str]:
        first, _second = self.pair()
        env = super().env()
        env.update({
            "NPO_DATABASE_URL": self.database_url,
            "NPO_LDAP_URL": " ".join(self.ldap_urls), "NPO_LDAP_BASE": self.settings.ldap_base,
            "NPO_LDAP_BIND_DN": first.app_dn, "NPO_LDAP_PASSWORD": first.credentials()["app"],
            "NPO_TRUSTED_PROXIES": json.dumps(["127.0.0.1"]),
            "NPO_WEB_INSTANCES": json.dumps(self.web_instances), "NPO_SITHS_OCSP_URL": self.ocsp_url,
        })
        if self.with_prefect:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.prefect_database_url
        return {**env, **self.extra_env}

    # ------------------------------------------------------------------ parts
    def migrate(self) -> None:
        """Create the two PostgreSQL databases when missing, then migrate as `make run` does."""
        for url in (self.database_url, *([self.prefect_database_url] if self.with_prefect else [])):
            if ensure_database(url):
                self._say(f"PostgreSQL: databasen {make_url(url).database} skapad")
        super().migrate()

    def start_directory(self) -> None:
        """Both providers, replicating each other; the demo loaded through them on the first start."""
        first, second = self.pair()
        was_running = first.pid() is not None and second.pid() is not None
        start_provider_pair(self.root / "ldap", self.ldap_ports, base=self.settings.ldap_base)
        self.started_providers = not was_running
        self._say(f"Skånekatalogen: två leverantörer med replikering, {' och '.join(self.ldap_urls)}")
        self.load_demo_once(first.root / "demo.json")

    def start_prefect(self) -> None:
        if self.with_deployments:
            super().start_prefect()
            return
        self.start_prefect_server()
        self.start_task_workers()

    def start_web(self) -> None:
        """The OCSP responder, the web processes (one port each) and nginx in front of them."""
        from npo.proxy import Nginx, siths_proxy

        self._spawn("ocsp", [sys.executable, "-m", "npo.cli", "certs", "ocsp", "--port", str(self.ocsp_port)])
        for number, port in enumerate(self.web_instance_ports, start=1):
            self._spawn(f"web-{number}", [sys.executable, "-m", "npo.cli", "certs", "serve", "--behind-proxy"],
                        env={"NPO_WEB_PORT": str(port)})
        # not a bare TCP connect: `openssl ocsp` serves one connection at a time (npo/ocsp.py); the child says when
        # its own OCSP question has been answered
        self._wait_log(self.child("ocsp"), "OCSP-svarare för", "OCSP-svararen")
        for number, url in enumerate(self.web_instances, start=1):
            self._wait_http(f"{url}/static/site.css", f"webbprocess {number}")
        proxy = Nginx(siths_proxy(self.settings, root=self.root / "nginx", tls_port=self.settings.overview_port,
                                  http_port=self.settings.web_port,
                                  upstreams=[f"127.0.0.1:{port}" for port in self.web_instance_ports],
                                  ocsp_responder=self.ocsp_url))
        proxy.write_config()
        self._spawn("nginx", proxy.command("-g", "daemon off;"))
        self._wait_http(f"{self.web_url}/static/site.css", "nginx (vanlig HTTP)")
        self._wait_port(self.settings.web_host, self.settings.overview_port, "nginx (SITHS-mTLS)")

    def stop(self) -> None:
        super().stop()
        if self.started_providers:
            for provider in self.providers:
                provider.stop()
            self._say("slapd (båda leverantörerna) stoppade")

    def urls(self) -> list[tuple[str, str]]:
        rows = [("Webb via nginx (beställning, attest)", f"{self.web_url}/"),
                ("Systemstatus", f"{self.web_url}/status"),
                ("SITHS via nginx (mTLS, CRL, OCSP)", f"{self.siths_url}/siths/vem-ar-jag"),
                *((f"Webbprocess {n}", f"{url}/") for n, url in enumerate(self.web_instances, start=1)),
                ("OCSP-svarare", self.ocsp_url),
                ("E-post (SMTP-sänka)", f"{self.web_url}/dev/mail")]
        if self.with_prefect:
            rows.append(("Prefect UI (på PostgreSQL)", f"{self.prefect_url}/"))
        rows += [(f"Skånekatalogen, leverantör {n}", url) for n, url in enumerate(self.ldap_urls, start=1)]
        rows += [("PostgreSQL", make_url(self.database_url).render_as_string(hide_password=True)),
                 ("Loggar", str(self.settings.var_dir / "log"))]
        return rows

