"""Anslutningar on the real app (issue 13 item 4): the private vårdgivare's manager orders it connected as producer
(a missing choice named beside the field), Vårdgivarservice approves on the page, the directory says producer, the
history shows both steps, and both mails reach the SMTP server."""

from __future__ import annotations

from sqlmodel import Session, select

from kernel import runtime
from kernel.outbox import OutboxMail
from tests.api.conftest import Browser
from tests.conftest import MailSink
from tests.world import World


def test_a_manager_orders_a_connection_and_vardgivarservice_approves_it_on_the_page(
        web: Browser, world: World, smtp_sink: MailSink) -> None:
    provider = world.private_provider.hsa_id
    web.login(world.private_manager.hsa_id)
    page = web.client.get("/anslutningar")
    assert page.status_code == 200 and f'data-provider="{provider}" data-consumer="1" data-producer="0"' in page.text
    assert f'<option value="{provider}"' in page.text
    missing = web.client.post("/anslutningar", data={"csrf": web.csrf(), "provider_hsa_id": provider,
                                                      "justification": "Vi vill dela journalerna."})
    assert missing.status_code == 422
    assert "konsument, producent eller båda" in missing.text.split('data-field="consumer"', 1)[1]
    assert "Vi vill dela journalerna." in missing.text  # what was typed is kept
    done = web.client.post("/anslutningar", data={"csrf": web.csrf(), "provider_hsa_id": provider, "producer": "1",
                                                   "justification": "Vi vill dela journalerna."})
    assert done.status_code == 200 and "Beställningen är skickad" in done.text and "data-pending=\"1\"" in done.text
    order_id = done.text.split('data-order="', 1)[1].split('"', 1)[0]

    web.login(world.vgs.hsa_id)
    decided = web.client.post(f"/anslutningar/{order_id}/beslut",
                              data={"csrf": web.csrf(), "decision": "godkann", "reason": "Avtal klart."})
    assert decided.status_code == 200 and "Vårdgivaren är ansluten." in decided.text
    assert f'data-provider="{provider}" data-consumer="1" data-producer="1"' in decided.text
    assert f'data-history-order="{order_id}" data-state="connected"' in decided.text
    assert world.directory.provider(provider).producer is True  # type: ignore[union-attr]
    with Session(runtime.engine()) as session:
        templates = [m.template for m in session.exec(select(OutboxMail)).all()]
    assert templates.count("connection_to_queue") == 1 and templates.count("connection_decided") == 1
    # delivered after each response, through the SMTP server: the queue's and the orderer's
    assert smtp_sink.wait_for(lambda sink: any("godkänd" in subject for subject in sink.subjects()))
    assert any(s.startswith("Anslutning till NPÖ att besluta") for s in smtp_sink.subjects())
