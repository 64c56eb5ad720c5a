"""SITHS: "Vem är jag?" shows who the client certificate says you are, or why it was refused and what to do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.schemas import ErrorPublic, SithsIdentityPublic
from api.siths import CertificateRejected, CurrentIdentity, IdentityOrRefusal
from api.templating import templates

router = APIRouter()

SITHS_TEST_URL = "http://test.siths.se"
SERVICE_DESK = "30000 (internt) eller 0776-73 00 00 (externt)"

# What a user can do, per refusal; the page always ends with the test page and the service desk.
ADVICE: dict[str, list[str]] = {
    "missing": ["Sätt i SITHS-kortet i kortläsaren och kontrollera att läsaren är ansluten.",
                "Stäng alla webbläsarfönster, öppna sidan igen och välj ditt SITHS-certifikat när webbläsaren frågar.",
                "Ange PIN-koden för legitimering. Har kortet spärrats efter fel PIN, kontakta din "
                "SITHS-administratör."],
    "foreign_issuer": ["Välj certifikatet från ditt SITHS-kort, inte ett annat certifikat i datorn.",
                       "Stäng alla webbläsarfönster så att webbläsaren frågar igen."],
    "signing_certificate": ["Välj legitimeringscertifikatet (inloggning), inte underskriftscertifikatet.",
                            "Stäng alla webbläsarfönster så att webbläsaren frågar igen."],
    "no_hsa_id": ["Välj certifikatet med ditt HSA-id. Saknar kortet ett sådant, kontakta din SITHS-administratör."],
    "expired": ["Beställ nytt SITHS-kort eller förnya certifikaten hos din SITHS-administratör."],
    "not_yet_valid": ["Kontrollera att datorns datum och klocka stämmer."],
}


@router.get("/siths/vem-ar-jag", response_class=HTMLResponse, name="siths_whoami_page")
def whoami_page(request: Request, result: IdentityOrRefusal) -> HTMLResponse:
    """Vem är jag? The verified SITHS identity, or the refusal with what to do."""
    refused = isinstance(result, CertificateRejected)
    context = {
        "identity": None if refused else result,
        "refusal": result if refused else None,
        "advice": ADVICE.get(result.code, []) if isinstance(result, CertificateRejected) else [],
        "test_url": SITHS_TEST_URL,
        "service_desk": SERVICE_DESK,
    }
    status = result.status if isinstance(result, CertificateRejected) else 200
    return templates.TemplateResponse(request, "siths/vem-ar-jag.html", context, status_code=status)


@router.get("/api/siths/whoami", name="siths_whoami", responses={
    401: {"model": ErrorPublic, "description": "Certifikatet godtas inte (``code`` säger varför)"},
    503: {"model": ErrorPublic, "description": "SITHS är inte konfigurerat på servern"}})
def whoami(identity: CurrentIdentity) -> SithsIdentityPublic:
    """The verified SITHS identity as JSON; when refused 401 (503 unconfigured) with ``error`` and ``code``."""
    return SithsIdentityPublic(hsa_id=identity.hsa_id, name=identity.name, given_name=identity.given_name,
                               surname=identity.surname, serial=identity.serial, issuer=identity.issuer,
                               not_after=identity.not_after.isoformat(), fingerprint=identity.fingerprint,
                               transport=identity.transport)
