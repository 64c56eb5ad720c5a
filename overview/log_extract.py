"""A patient's log extract as files (issue 15 item 2): CSV for a spreadsheet and PDF to hand to the patient, each
line with when, which vårdenhet and vårdgivare, who, what, whose data, on what basis and relation
(HSLF-FS 2016:40 4 kap. 10 §). The lines come from ``accesslog.extract``; taking an extract is logged by the caller
(``service.patient_log_extract``)."""

from __future__ import annotations

import datetime as dt

from kernel.clock import STOCKHOLM
from kernel.spreadsheet import swedish_csv
from overview.accesslog import ExtractLine

HEADERS = ("Tid", "Händelse", "Resurs", "Utfall", "Vårdenhet", "Vårdenhetens HSA-id", "Vårdgivare",
           "Vårdgivarens HSA-id", "Användare (HSA-id)", "Uppgifter från", "Grund", "Patientrelation", "Skäl")
FORMATS = ("text", "csv", "pdf")
_ASCII = {ord(k): v for k, v in {"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "..."}.items()}


def _when(line: ExtractLine) -> str:
    return line.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _row(line: ExtractLine) -> list[str]:
    return [_when(line), line.action, line.resource_type, line.outcome, line.care_unit_name,
            line.care_unit_hsa_id or "", line.care_provider_name, line.care_provider_hsa_id or "", line.user_hsa_id,
            ", ".join(line.source_providers), line.basis_text, line.relation_text, line.detail]


def as_csv(lines: list[ExtractLine]) -> bytes:
    """The extract as a Swedish-Excel CSV (one row per access, oldest first)."""
    return swedish_csv(HEADERS, [_row(line) for line in lines])


def _latin(text: str) -> str:
    """The PDF's core font writes Latin-1 (å, ä, ö, é are in it); dashes and quotes outside it become their ASCII
    look-alikes, anything else a question mark, so no character of a name or a reason is silently dropped."""
    text = text.translate(_ASCII)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def as_pdf(personnummer: str, lines: list[ExtractLine], *, taken_at: dt.datetime, taken_by: str) -> bytes:
    """The extract as an A4 PDF: a heading with the patient and when it was taken, then one block per access."""
    from fpdf import FPDF  # imported here: fpdf2 and its fonts take a second to import, in every web process's start
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(_latin(f"Loggutdrag {personnummer[:8]}-{personnummer[8:]}"))
    pdf.set_author("Region Skåne, NPÖ")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 14)
    pdf.multi_cell(0, 8, _latin(f"Loggutdrag för {personnummer[:8]}-{personnummer[8:]}: {len(lines)} åtkomster"),
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin(f"Nationell patientöversikt (NPÖ), Region Skåne. Utdraget togs "
                                f"{taken_at.astimezone(STOCKHOLM):%Y-%m-%d %H:%M} av {taken_by}. Tider i svensk tid. "
                                "Grund: varför uppgifterna fick visas (egen vårdgivare, samtycke, nödåtkomst, "
                                "beslutsoförmögen patient)."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for line in lines:
        pdf.set_font("helvetica", "B", 10)
        pdf.multi_cell(0, 5, _latin(f"{_when(line)}  {line.action} {line.resource_type} ({line.outcome})"),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("helvetica", "", 9)
        facts = [f"Vårdenhet: {line.care_unit_name or '-'} ({line.care_unit_hsa_id or 'ingen vårdenhet'})",
                 f"Vårdgivare: {line.care_provider_name or '-'} ({line.care_provider_hsa_id or '-'})",
                 f"Användare: {line.user_hsa_id}",
                 f"Uppgifter från: {', '.join(line.source_providers) or '-'}",
                 f"Grund: {line.basis_text}   Patientrelation: {line.relation_text}"]
        if line.detail:
            facts.append(f"Skäl: {line.detail}")
        pdf.multi_cell(0, 4.5, _latin("\n".join(facts)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    return bytes(pdf.output())
