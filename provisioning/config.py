"""The few settings the ordering domain needs, passed in by api/flows (nothing here reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProvisioningConfig:
    """Where links point and which vårdgivare is Region Skåne itself."""

    region_provider_hsa_id: str
    public_base_url: str
    npo_url: str = "https://npo.sjunet.org"
    admin_mail: str = "npo-forvaltning@skane.example"  # used when the directory cannot name the recipients
    max_attempts: int = 48  # provisioning attempts while LDAP is unavailable (sweep every 5 min ≈ 4 h)
    retry_seconds: int = 300

    def order_link(self, reference: str) -> str:
        """The order's page."""
        return f"{self.public_base_url.rstrip('/')}/bestallningar/{reference}"
