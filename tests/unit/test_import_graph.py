"""The imports of `exporter/` follow the data flow: inventory in, pollers, state, exposition
out, with the shared vocabulary (metrics, i18n) on the ground floor and the entry points on top.

A folder may import its own modules, any folder on a lower floor, and nothing above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "exporter"
FLOORS = {
    "metrics": 0, "i18n": 0,  # the vocabulary every floor speaks
    "inventory": 1,  # what is polled, parsed strictly
    "pollers": 2,  # how it is asked
    "state": 3,  # what it answered, and what that means for each TPS
    "exposition": 4, "report": 4,  # what people and Prometheus read
}  # fmt: skip
TOP = 5  # cli, runtime, probe, logs: they assemble the floors


def floor(module: str) -> int:
    """Return the floor of `exporter.x.y` (a module outside the folders is on top; the package's
    version is on the ground floor, read from one place)."""
    if module == "exporter.__version__":
        return 0
    parts = module.split(".")
    return FLOORS.get(parts[1], TOP) if len(parts) > 1 else TOP


def imports(path: Path) -> set[str]:
    """Return the `exporter.*` modules a file imports (type-checking-only ones included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} if node.module.startswith("exporter") else set()
            if node.module == "exporter":
                found |= {f"exporter.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("exporter.")}
    return found - {"exporter"}


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def test_no_import_runs_against_the_data_flow() -> None:
    against = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_of(path)
        for imported in sorted(imports(path)):
            if floor(imported) > floor(here):
                against.append(f"{here} (floor {floor(here)}) imports {imported} "
                               f"(floor {floor(imported)})")  # fmt: skip
    assert against == []


def test_every_folder_has_a_floor() -> None:
    folders = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    assert folders == set(FLOORS)


def test_the_ground_floor_imports_nothing_of_the_exporter_but_itself() -> None:
    for path in [*(PACKAGE / "metrics").rglob("*.py"), *(PACKAGE / "i18n").rglob("*.py")]:
        own = path.relative_to(PACKAGE).parts[0]
        assert {m.split(".")[1] for m in imports(path)} <= {own}, path
