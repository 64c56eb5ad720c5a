"""The accessibility check of the browser journeys (DOS-lagen, WCAG 2.1 AA): axe-core in Debian's chromium fails on a
page that breaks the rules and names what to fix."""

from __future__ import annotations

import re

import pytest

from tests.e2e.axe import AxeChecker

pytestmark = pytest.mark.e2e

BROKEN = """<!doctype html><html><head><title></title></head><body>
<img src="/x.png"><input name="q"><p style="color:#bbb;background:#fff">Svag text</p></body></html>"""


def test_the_axe_check_fails_on_a_page_that_breaks_the_rules(browser) -> None:  # type: ignore[no-untyped-def]
    checker = AxeChecker()
    context = browser.new_context(locale="sv-SE")
    try:
        page = checker.watch(context.new_page())
        page.route("http://broken.test/**", lambda route: route.fulfill(body=BROKEN, content_type="text/html"))
        page.unwrapped.goto("http://broken.test/sida")
        with pytest.raises(AssertionError) as failed:
            page.title()  # the first use of the new document runs axe-core on it
        message = str(failed.value)
        assert "on http://broken.test/sida" in message
        for rule, impact in (("image-alt", "critical"), ("label", "critical"), ("html-has-lang", "serious"),
                             ("document-title", "serious"), ("color-contrast", "serious")):
            assert re.search(rf"- {rule} \[{impact}\] .+ – https://dequeuniversity\.com/rules/axe/[\d.]+/{rule}",
                             message), rule
        assert "\n    img:" in message and "\n    input:" in message  # the offending elements' selectors
    finally:
        context.close()
