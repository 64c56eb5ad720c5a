"""axe-core on every page a browser journey visits (DOS-lagen: WCAG 2.1 AA), in Debian's chromium.

``AxeChecker.watch(page)`` returns the page wrapped so that, before the journey does anything with it, the document
now in the page is checked once with axe-core (the copy pinned by the ``axe-playwright-python`` package; nothing is
fetched at test time). A serious or critical violation fails the journey at that step, with each rule's id, impact,
target selectors and help URL. Every document is checked when the journey first touches it after it loaded, so a
form re-rendered with its errors is checked as well as the empty form; ``finish`` checks the last document and that
every address the page loaded was checked at least once.

axe runs through the DevTools protocol, so it also runs under a strict Content-Security-Policy without any
inline script in the pages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT

BLOCKING = ("critical", "serious")
# WCAG 2.0/2.1 A and AA plus axe's best practices (landmarks, one h1, heading order): everything axe runs by default.
OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}
_RUN = "options => axe.run(document, options).then(r => { window.__axeChecked = true; return r.violations; })"
_GONE = ("Execution context was destroyed", "Cannot find context", "navigation", "Target page, context or browser")


@dataclass
class AxeChecker:
    """Runs axe-core once per document and keeps every violation seen (for the failure message and a summary)."""

    blocking: tuple[str, ...] = BLOCKING
    checked: list[str] = field(default_factory=list)  # the address of every document checked, in order
    violations: list[tuple[str, dict]] = field(default_factory=list)  # (address, axe violation) of every impact

    def watch(self, page) -> CheckedPage:  # type: ignore[no-untyped-def]
        """The page, wrapped so that each new document is checked before the journey acts on it."""
        return CheckedPage(page, self)

    def check(self, page) -> None:  # type: ignore[no-untyped-def]
        """Check the document in the page unless it already was; fail on a blocking violation."""
        for _attempt in range(5):
            try:
                page.wait_for_load_state("load")
                if not page.url.startswith(("http:", "https:")):
                    return  # about:blank before the first navigation
                if page.evaluate("() => window.__axeChecked === true"):
                    return
                if not page.evaluate("() => typeof axe === 'object'"):
                    page.evaluate(AXE_SCRIPT)
                found = page.evaluate(_RUN, OPTIONS)
                break
            except Exception as error:  # a navigation replaced the document under us: check the new one
                if page.is_closed() or not any(text in str(error) for text in _GONE):
                    raise
        else:
            raise AssertionError(f"axe-core could not check {page.url}: the page kept navigating")
        self.checked.append(page.url)
        self.violations.extend((page.url, v) for v in found)
        blocking = [v for v in found if v["impact"] in self.blocking]
        assert not blocking, report(page.url, blocking)

    def finish(self, page: CheckedPage) -> None:
        """Check the document the journey ended on, then that every address the page loaded was checked."""
        if not page.unwrapped.is_closed():
            self.check(page.unwrapped)
        missed = page.loaded - set(self.checked)
        assert not missed, f"pages loaded but never checked with axe-core: {sorted(missed)}"

    def summary(self) -> Counter[str]:
        """How many elements violate each rule, over every document checked ("rule (impact)" -> count)."""
        counts: Counter[str] = Counter()
        for _url, v in self.violations:
            counts[f"{v['id']} ({v['impact']})"] += len(v["nodes"])
        return counts


def report(url: str, violations: list[dict]) -> str:
    """A failure message a person can act on: per rule its impact, help URL and every offending element."""
    lines = [f"axe-core: {len(violations)} serious or critical WCAG violation(s) on {url}"]
    for v in violations:
        lines.append(f"- {v['id']} [{v['impact']}] {v['help']} – {v['helpUrl']}")
        for node in v["nodes"]:
            lines.append(f"    {' '.join(str(t) for t in node['target'])}: {node.get('failureSummary', '')}"
                         .replace("\n", " "))
    return "\n".join(lines)


class CheckedPage:
    """A Playwright page that gets the current document checked by axe-core before every use."""

    def __init__(self, page, checker: AxeChecker) -> None:  # type: ignore[no-untyped-def]
        self._page = page
        self._checker = checker
        self.loaded: set[str] = set()  # the address of every document loaded in the page
        page.on("load", lambda loaded: self.loaded.add(loaded.url))

    @property
    def unwrapped(self):  # type: ignore[no-untyped-def]
        """The Playwright page itself (no checks)."""
        return self._page

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if not self._page.is_closed() and name not in ("is_closed", "close", "context"):
            self._checker.check(self._page)
        return getattr(self._page, name)
