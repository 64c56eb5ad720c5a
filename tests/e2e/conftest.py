"""Browser journeys: the real app served by uvicorn on a free port, driven through Debian's chromium."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from kernel import runtime
from kernel.settings import Settings
from npo.web import create_app  # the app as the shell serves it (the dev login lists the demo's cast)
from tests.conftest import MailSink, free_port
from tests.e2e.axe import AxeChecker
from tests.world import World

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


class LiveServer:
    """uvicorn in a thread, serving create_app() with the runtime configured by the test."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(app_settings: Settings, world: World, smtp_sink: MailSink) -> Iterator[LiveServer]:
    """The app on a real port for the test's world, flows in-process, mail to the sink."""
    server = LiveServer()
    runtime.configure(app_settings.model_copy(update={
        "dev_login": True, "region_provider_hsa_id": world.region.provider.hsa_id, "smtp_port": smtp_sink.port,
        "public_base_url": server.url}))
    server.server.config.app = create_app()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")  # Playwright keeps an event loop in this thread while open
def browser():  # type: ignore[no-untyped-def]
    """Debian's chromium through Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


CHECKER = AxeChecker()  # one for the run: it keeps what it found for the summary at the end


@pytest.fixture
def axe() -> AxeChecker:
    """axe-core for every page of every journey."""
    return CHECKER


@pytest.fixture
def page(browser, axe: AxeChecker):  # type: ignore[no-untyped-def]
    """A fresh browser context and page; every document the test uses in it is checked with axe-core."""
    context = browser.new_context(locale="sv-SE")
    page = axe.watch(context.new_page())
    page.set_default_timeout(15000)
    yield page
    axe.finish(page)
    context.close()


def pytest_terminal_summary(terminalreporter, config) -> None:  # type: ignore[no-untyped-def]
    """List the moderate and minor axe-core findings too (they do not fail a journey, but deserve a look)."""
    if CHECKER.checked:
        terminalreporter.write_sep("-", f"axe-core: {len(CHECKER.checked)} documents checked")
        for rule, count in sorted(CHECKER.summary().items()):
            terminalreporter.write_line(f"{rule}: {count} element(s)")

