"""The API's layers, checked on the source: routes see parts, not the hub; routers stand
alone; the insights know nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

HUB = Path(__file__).resolve().parents[1] / "hub"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def routers() -> dict[str, Path]:
    return {
        f"hub.api.{path.stem}": path
        for path in (HUB / "api").glob("*.py")
        if "APIRouter(" in path.read_text()
    }


def test_no_api_module_imports_the_service() -> None:
    offenders = [path.name for path in (HUB / "api").glob("*.py") if "hub.service" in imports(path)]
    assert offenders == []


def test_no_router_imports_another_router() -> None:
    found = routers()
    assert len(found) >= 8, found  # the check looks at the real routers
    crossings = {
        name: sorted(imports(path) & (set(found) - {name})) for name, path in found.items()
    }
    assert {name: got for name, got in crossings.items() if got} == {}


def test_the_insights_know_nothing_of_http() -> None:
    for path in (HUB / "insights").glob("*.py"):
        assert not {m for m in imports(path) if m.startswith(("fastapi", "hub.api"))}, path.name
