"""The one place that reads configuration (environment variables prefixed ``NPO_``, or a ``.env`` file).

Everything below ``api``/``flows`` receives plain config objects built from here; nothing else reads the
environment. The directory's connection and the embedded slapd are derived in ``catalog.runtime``.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


DEV_SERVICE_FUNCTION = "SE2321000255-F0001"  # the demo's journal system (`npo certs function` issues its certificate)


class Settings(BaseSettings):
    """npo-access configuration. Defaults give the embedded stack of `make run`."""

    model_config = SettingsConfigDict(env_prefix="NPO_", env_file=".env", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    var_dir: Path = Field(default=ROOT / "var", description="working data of the embedded stack")

    # SQL store
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite under var/")

    # Skånekatalogen. When ldap_url is set the project uses that directory and starts no slapd.
    ldap_url: str | None = None
    ldap_base: str = "c=SE"
    ldap_bind_dn: str | None = None
    ldap_password: str | None = None
    ldap_port: int = 38389
    ldap_cache_seconds: float = 30.0

    # web
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    secret_key: str | None = Field(default=None, description="keys the log-review sample; required in production, "
                                                               "generated into var/secret.key otherwise")
    dev_login: bool = False
    session_idle_minutes: float = Field(default=30, gt=0, description="a session ends after this long unused")
    session_max_hours: float = Field(default=8, gt=0, description="and this long after sign-in at the latest")

    # SITHS (D7). In the embedded stack a dev CA under var/certs stands in for the SITHS CA chain.
    siths_ca_file: Path | None = Field(default=None, description="PEM bundle of the CA(s) user certificates chain to")
    siths_crl_file: Path | None = Field(default=None, description="PEM or DER CRL(s) of those CAs (revoked cards); "
                                                                   "default outside production: the dev CA's")
    tls_cert_file: Path | None = Field(default=None, description="server certificate of the mTLS listener")
    tls_key_file: Path | None = None
    overview_port: int = 8443
    trusted_proxies: list[str] = Field(default_factory=list, description="addresses allowed to forward a verified cert")
    proxy_cert_header: str = "X-SSL-Client-Cert"
    siths_ocsp_url: str | None = Field(default=None, description="the OCSP responder the SITHS proxy asks about "
                                       "cards; /status asks it too")
    # the service interfaces (/tjanster/): HSA-IDs of the function certificates allowed to call them; outside
    # production DEV_SERVICE_FUNCTION (the demo's journal system) is allowed when none is named
    service_functions: list[str] = Field(default_factory=list, description="function HSA-IDs allowed on /tjanster/")

    # mail (the outbox delivers through this SMTP server; the embedded stack runs a sink)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "npo-behorighet@skane.example"
    service_desk_mail: str = "servicedesk@skane.example"
    # Felsökning's advice on the card reader software (issue 14): no version number that rots; the förvaltning
    # sets the region's current wording with NPO_NETID_ADVICE
    netid_advice: str = Field(default=(
        "Använd den version av Net iD (kortläsarprogrammet för SITHS-kortet) som Region Skåne installerar på sina "
        "datorer; den uppdateras centralt. På en dator med egenansvar: installera den version som Inera anger som "
        "aktuell för SITHS, och även drivrutinerna för kortläsaren. Fungerar inte kortet efter en uppdatering, starta "
        "om datorn och testa kortet igen innan du gör en felanmälan."), min_length=10, max_length=2000)
    audit_anchor_mail: str | None = Field(default=None, description="where log-followup mails the access log's "
                                                                     "daily anchor (kept outside the database)")
    audit_seal_every_seconds: float = Field(default=1.0, ge=0, le=60, description="how often each web process "
                                            "seals new access-log rows into the chain (0: never; D-62)")
    web_threads: int = Field(default=16, ge=2, le=200, description="threads per web process that run the page "
                             "handlers (fewer contend less for Python's GIL; D-64)")
    # the cluster profile (issue 16): every web process behind the load balancer, each shown on /status
    web_instances: list[str] = Field(default_factory=list, description="base URLs of the web processes, e.g. "
                                     '["http://127.0.0.1:8101","http://127.0.0.1:8102"]; /status asks each one')
    public_base_url: str = "http://127.0.0.1:8000"
    npo_url: str = "https://npo.sjunet.org"

    # Prefect: when prefect_api_url is set, the web submits background tasks (flows.background); otherwise in-process
    prefect_api_url: str | None = None
    prefect_port: int = 4200
    prefect_ui_url: str | None = Field(default=None, description="the Prefect UI the order timeline links to; "
                                                                   "default: the API's address without /api")

    # Region Skåne's own vårdgivare: its units order the public way (Skåneförvaltningen)
    region_provider_hsa_id: str = "SE2321000255-E00001"

    # behörighetskontroll: a member with no NPÖ read through the unit's commission for this long is flagged
    recert_idle_days: int = Field(default=183, ge=1, le=3650)
    # logguppföljning: the risk signals in force (codes as docs/log-followup.md lists them; None: all, []: none)
    log_review_rules: list[str] | None = Field(default=None, description="risk rules of log follow-up, e.g. "
                                               '["egen_journal","kollega"]; checked by the log-followup run')

    # "Vem har läst min journal?" (/patient/, issue 15, docs/patient-view.md): how patients sign in
    # (None: "dev" with the dev login outside production, else "off"), the OpenID Connect provider for "oidc",
    # whether the reader's name is shown (a public vårdgivare may: allmän handling) and the age rules (D-76)
    patient_auth: Literal["off", "dev", "oidc"] | None = None
    patient_oidc_issuer: str | None = Field(default=None, description="the provider's issuer URL (discovery at "
                                            "/.well-known/openid-configuration)")
    patient_oidc_client_id: str | None = None
    patient_oidc_client_secret: str | None = None
    patient_oidc_scopes: str = "openid"
    patient_oidc_personnummer_claim: str = Field(default="personal_identity_number", description="the ID token "
                                                 "claim that carries the personnummer (12 digits)")
    patient_oidc_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    patient_show_reader_names: bool = False
    patient_own_access_from_age: int = Field(default=16, ge=0, le=18, description="a patient sees their own log "
                                             "from this age (Journalen's rule)")
    patient_guardian_until_age: int = Field(default=13, ge=0, le=18, description="a guardian sees a child's log "
                                            "until the child reaches this age")

    # HR reconciliation
    hr_provider_hsa_id: str = "SE2321000255-E00001"
    hr_source: Path | None = None
    sync_max_disable_share: float = Field(default=0.05, ge=0, le=1)
    # a mover keeps the old unit's memberships this many days past the old employment's last day (docs/hr-export.md)
    sync_mover_grace_days: int = Field(default=0, ge=0, le=90)

    @model_validator(mode="after")
    def _production_is_safe(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            if self.dev_login:
                raise ValueError("NPO_DEV_LOGIN=true is refused when NPO_ENV=production")
            if not self.secret_key or len(self.secret_key) < 32:
                raise ValueError("NPO_SECRET_KEY must be set to a random value of at least 32 characters in production")
            if self.patient_auth == "dev":
                raise ValueError("NPO_PATIENT_AUTH=dev is refused when NPO_ENV=production")
        if self.patient_auth == "oidc" and not (self.patient_oidc_issuer and self.patient_oidc_client_id):
            raise ValueError("NPO_PATIENT_AUTH=oidc needs NPO_PATIENT_OIDC_ISSUER and NPO_PATIENT_OIDC_CLIENT_ID")
        return self

    @property
    def patient_authenticator(self) -> str:
        """Which patient sign-in is in force: the setting, else "dev" with the dev login outside production."""
        if self.patient_auth:
            return self.patient_auth
        return "dev" if self.dev_login and self.env is not Environment.PRODUCTION else "off"

    def prefect_ui(self) -> str | None:
        """Where the Prefect UI is (None without a Prefect server)."""
        if self.prefect_ui_url:
            return self.prefect_ui_url.rstrip("/")
        if self.prefect_api_url:
            return self.prefect_api_url.rstrip("/").removesuffix("/api")
        return None

    def secret(self) -> str:
        """The secret key: the configured one, else (never in production) a random one kept in var/secret.key."""
        if self.secret_key:
            return self.secret_key
        if self.env is Environment.PRODUCTION:  # unreachable through the validator; kept for a hand-built object
            raise ValueError("NPO_SECRET_KEY is required in production")
        return _generated_secret(self.var_dir / "secret.key")

    # ------------------------------------------------------------------ derived
    @property
    def sql_url(self) -> str:
        """The SQLAlchemy URL in use."""
        return self.database_url or f"sqlite:///{self.var_dir / 'npo.db'}"

    @property
    def allowed_service_functions(self) -> frozenset[str]:
        """The function HSA-IDs allowed on /tjanster/ (upper-cased): the named ones, or outside production the demo's
        journal system."""
        named = self.service_functions or ([] if self.env is Environment.PRODUCTION else [DEV_SERVICE_FUNCTION])
        return frozenset(hsa_id.strip().upper() for hsa_id in named if hsa_id.strip())

    @property
    def certs_dir(self) -> Path:
        """Where the dev CA and issued certificates live (embedded stack)."""
        return self.var_dir / "certs"

    @property
    def embedded_ldap(self) -> bool:
        """True when the project runs its own slapd (no NPO_LDAP_URL)."""
        return not self.ldap_url


def _generated_secret(path: Path) -> str:
    """Read the key at ``path``, creating it (0600, 48 random bytes) on first use; concurrent starters agree."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)  # atomic: the file appears complete, or another process's file stays
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def export(settings: Settings, *names: str) -> None:
    """Put these settings into this process's environment as NPO_<NAME>, for the processes it starts (the web
    workers of `npo certs serve --workers N` read their settings there)."""
    for name in names:
        value = getattr(settings, name)
        if value is not None:
            os.environ[f"NPO_{name.upper()}"] = str(value)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (tests pass overrides)."""
    return Settings(**overrides)
