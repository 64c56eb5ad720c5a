"""The layout tells the story (ARCHITECTURE §2, docs/decisions.md D-52, D-54): imports only point down
npo → api → forms, flows → provisioning, overview → catalog → kernel. The ground floor (kernel) imports nothing of the
project and nothing imports the shell (npo). The demo (demo/) fills what it imports (the directory, the overview's
tables); only the shell imports it, as bench/ and the tests do. Checked on the source, so a new upward import fails
here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["kernel", "catalog", "provisioning", "overview", "forms", "api", "flows", "demo", "npo"]
PRODUCTION = [p for p in PACKAGES if p not in {"demo", "npo"}]  # what runs in production, without the shell
ALLOWED = {
    "kernel": set(),
    "catalog": {"kernel"},
    "provisioning": {"catalog", "kernel"},
    "overview": {"catalog", "kernel"},
    "forms": {"provisioning", "overview", "catalog", "kernel"},
    "flows": {"provisioning", "overview", "catalog", "kernel"},
    "api": {"forms", "flows", "provisioning", "overview", "catalog", "kernel"},
    "demo": {"provisioning", "overview", "catalog", "kernel"},
    "npo": {"api", "forms", "flows", "demo", "provisioning", "overview", "catalog", "kernel"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
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
            if top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_only_the_settings_read_the_environment() -> None:
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            if ("os.environ" in text or "os.getenv" in text) and path.relative_to(ROOT).as_posix() not in {
                    "kernel/settings.py", "npo/stack.py"}:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def demo_importers(root: Path, packages: list[str]) -> list[str]:
    """Every module of ``packages`` below ``root`` that imports the demo package (``import demo``, ``from demo…``)."""
    found = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found += [f"{path.relative_to(root)} imports {module}" for module in sorted(imports_of(path))
                      if module.split(".")[0] == "demo"]
    return found


def test_no_production_module_imports_the_demo() -> None:
    assert demo_importers(ROOT, PRODUCTION) == []


def test_the_demo_check_finds_an_import_of_the_demo(tmp_path: Path) -> None:
    (tmp_path / "overview").mkdir()
    (tmp_path / "overview" / "facts.py").write_text("from demo import organisation\n")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "auth.py").write_text("import demo.cast\nfrom demography import x\n")
    assert demo_importers(tmp_path, ["overview", "api"]) == ["overview/facts.py imports demo",
                                                              "api/auth.py imports demo.cast"]
