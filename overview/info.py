""""Information innan start med NPÖ": what every user confirms having read before the first use (gate step 5).

The seed says the information should cover how NPÖ works, what can be seen in it, and PDL (consent, block, log).
Raise ``VERSION`` whenever the text changes in substance: every user then confirms the new version once.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1
NPO_URL = "https://npo.sjunet.org"


@dataclass(frozen=True, slots=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Information:
    """One version of the text."""

    version: int
    title: str
    sections: tuple[Section, ...]

    def plain_text(self) -> str:
        """The whole text as plain text (for mail, print and tests)."""
        parts = [self.title, ""]
        for section in self.sections:
            parts += [section.heading, *(f"  {p}" for p in section.paragraphs), ""]
        return "\n".join(parts).rstrip() + "\n"


INFORMATION = Information(
    version=VERSION,
    title="Information innan start med NPÖ",
    sections=(
        Section("Så fungerar NPÖ", (
            "Nationell patientöversikt (NPÖ) ger dig som behörig vårdpersonal direktåtkomst till journaluppgifter "
            "som andra vårdgivare – regioner, kommuner och privata vårdgivare – har gjort tillgängliga, och till "
            "uppgifter hos din egen vårdgivare.",
            "Du loggar in med ditt SITHS-kort (RS-kort). Sjukhusen når NPÖ via länken i Melior och vårdcentralerna "
            f"via intranätet eller länken i PMO. Webbadressen är {NPO_URL}.",
            "Du behöver medarbetaruppdraget VoB SJF (Vård och behandling, sammanhållen journalföring) på den "
            "vårdenhet där du arbetar. Har du flera uppdrag väljer du uppdraget för den enhet där patienten vårdas "
            "just nu.",
        )),
        Section("Vad du kan se i NPÖ", (
            "Från Region Skåne: patientens namn och adress, vårdkontakter i öppen och sluten vård, inbokade besök, "
            "diagnoser, uppmärksamhetssignal om smitta och vald vårdcentral (Pasis); journalanteckningar från "
            "sjukhusen (Melior) utom scannade dokument, brev och remisser; läkar-, sköterske-, paramedicinsk, "
            "psykosocial och ungdomsmottagningsjournal samt Sammanfattning från primärvården (PMO); "
            "undersökningsresultat inom bilddiagnostik, klinisk fysiologi och neurofysiologi (Sectra/RIS); "
            "sjuksköterskeanteckningar från 1177 Vårdguiden på telefon.",
            "Uppgifter om patientens läkemedelsuttag hämtas från eHälsomyndigheten.",
            "Informationen visas i regel från 2012-01-01, från PMO från den dag vårdenheten började använda PMO. "
            "Uppgifter från psykiatrin, Habilitering & Hjälpmedel och de flesta privata vårdenheter visas inte.",
            "Andra vårdgivare väljer själva vilken information de visar.",
        )),
        Section("Patientdatalagen: patientrelation och samtycke", (
            "Du får bara ta del av uppgifter om patienter som du har en aktuell patientrelation med och som du "
            "behöver för vården av patienten. Läs bara det du behöver för din uppgift.",
            "För att se andra vårdgivares uppgifter måste patienten ge sitt samtycke. Samtycket registreras för dig "
            "personligen eller för hela vårdenheten och för en viss tid. Samtycke till att se läkemedelsförteckningen "
            "kan bara ges till dig personligen. Patienten kan när som helst ta tillbaka sitt samtycke.",
            "Din egen vårdgivares uppgifter kräver inget samtycke, men patientrelationen krävs alltid.",
        )),
        Section("Spärr", (
            "Patienten kan spärra uppgifter hos en vårdenhet eller en vårdgivare. Spärrade uppgifter visas inte; "
            "du får bara veta att det finns spärrade uppgifter. En vårdnadshavare kan inte spärra ett barns "
            "uppgifter.",
        )),
        Section("Nödåtkomst", (
            "Om patienten inte kan ta ställning till samtycke och uppgifterna behövs för vård som inte kan vänta, "
            "får du öppna uppgifterna med nödåtkomst. Du måste ange skäl och åtkomsten gäller en begränsad tid.",
            "Spärrade uppgifter öppnas i två steg: först ser du vilka vårdgivare som har spärrade uppgifter, sedan "
            "väljer du vilka uppgifter som ska öppnas. Varje nödöppning loggas och granskas alltid.",
        )),
        Section("Loggning och uppföljning", (
            "Varje gång du läser, registrerar samtycke, intygar en patientrelation eller gör en nödöppning "
            "loggas vem du är, vilket uppdrag, vilken vårdenhet och vårdgivare, vilken patient, vad och när. "
            "Loggarna sparas i minst fem år.",
            "Verksamhetschefen följer systematiskt upp loggarna. Att läsa uppgifter utan att behöva dem i vården "
            "av patienten är dataintrång. Patienten har rätt att få ett utdrag ur loggen.",
        )),
        Section("Om något inte fungerar", (
            "Gå igenom felsökningen (kort, Net iD, medarbetaruppdrag) och gör annars en felanmälan till Region "
            "Skånes servicedesk, telefon 30000 (internt) eller 0776-73 00 00 (externt).",
        )),
    ),
)


def current() -> Information:
    """The version users must have confirmed (the gate's ``info_version_current``)."""
    return INFORMATION
