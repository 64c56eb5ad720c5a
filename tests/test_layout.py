"""The layout tells the story (ARCHITECTURE §2): imports only point down npo → api → forms, flows → provisioning,
overview → catalog. Checked on the source, so a new upward import fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["catalog", "provisioning", "overview", "forms", "api", "flows", "npo"]
ALLOWED = {
    "catalog": set(),
    "provisioning": {"catalog"},
    "overview": {"catalog"},
    "forms": {"provisioning", "overview", "catalog"},
    "flows": {"provisioning", "overview", "catalog"},
    "api": {"forms", "flows", "provisioning", "overview", "catalog"},
    "npo": {"api", "forms", "flows", "provisioning", "overview", "catalog"},
}
# api and flows take settings and process resources from these two leaf modules (docs/decisions.md).
LEAVES = {"npo.settings", "npo.runtime"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in {"npo", "api", "flows", "forms"}:  # `from npo import runtime` is npo.runtime
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down(package: str) -> None:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imports_of(path):
            top = module.split(".")[0]
            if top not in PACKAGES or top == package:
                continue
            if module in LEAVES and package in {"api", "flows"}:
                continue
            if top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_the_leaf_modules_stay_leaves() -> None:
    for leaf in LEAVES:
        path = ROOT / (leaf.replace(".", "/") + ".py")
        tops = {m.split(".")[0] for m in imports_of(path)} & set(PACKAGES)
        assert tops <= {"catalog", "npo"}, (leaf, tops)
        assert {m for m in imports_of(path) if m.startswith("npo.")} <= LEAVES


def test_only_npo_settings_reads_the_environment() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if ("os.environ" in text or "os.getenv" in text) and path.relative_to(ROOT).as_posix() not in {
                    "npo/settings.py", "npo/stack.py"}:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
