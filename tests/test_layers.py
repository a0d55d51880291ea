"""Imports point down the layers of docs/ARCHITECTURE.md; a small AST walk enforces it.

    edges       api  cli  web
    use-cases   vault
    services    policy  audit  numbers  redact  watch  trace  sim  testing
    primitives  crypto  store
    foundation  veil (root)  errors  ids  clock  config

A module may import its own package, any package in a lower layer, and (outside
the primitives) another package of its own layer. Third-party libraries with a
hazmat side are confined to the one package that owns them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import veil

SRC = Path(veil.__file__).parent

FOUNDATION = {"veil", "veil.errors", "veil.ids", "veil.clock", "veil.config"}
LAYERS = {
    "foundation": 0,
    "primitives": 1,
    "services": 2,
    "use-cases": 3,
    "edges": 4,
}
PACKAGES = {
    "crypto": "primitives",
    "store": "primitives",
    "policy": "services",
    "audit": "services",
    "numbers": "services",
    "redact": "services",
    "watch": "services",
    "trace": "services",
    "sim": "services",
    "testing": "services",
    "vault": "use-cases",
    "api": "edges",
    "cli": "edges",
    "web": "edges",
}

# Known, deliberate exceptions, each with the reason it is tolerated. Adding to
# this set is a design decision: say why in the same line.
EXCEPTIONS = {
    # The settings default names the shipped policy directory.
    ("veil.config", "veil.policy"),
    # The demo seeder drives vault use-cases (as a benchmark driver would); it is
    # imported only by the CLI, which the rule below checks.
    ("veil.sim", "veil.vault"),
}

# Who may import the packages that production code paths must not load.
TEST_AND_DEMO_ONLY = {"veil.sim": {"cli", "sim"}, "veil.testing": {"cli", "sim", "testing"}}

# Third-party libraries confined to one package (by top-level import name).
CONFINED = {
    "cryptography": {"crypto"},
    "pkcs11": {"crypto"},
    "cedarpy": {"policy"},
    "fastapi": {"api"},
    "starlette": {"api"},
    "typer": {"cli"},
    "rich": {"cli"},
    # Rate limits and cross-process counters belong to the watch.
    "limits": {"watch"},
    "redis": {"watch"},
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. veil.vault._vault
    target: str  # the imported module, e.g. veil.crypto
    line: int

    @property
    def where(self) -> str:
        return f"{self.module}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[Import]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend(Import(module, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(Import(module, target, node.lineno))
            if target in ("veil", *FOUNDATION) or node.module is None:
                # ``from veil import crypto`` imports the sub-package.
                found.extend(
                    Import(module, f"{target}.{alias.name}", node.lineno)
                    for alias in node.names
                    if (SRC.parent / target.replace(".", "/") / alias.name).is_dir()
                )
    return found


ALL_IMPORTS = [imp for path in sorted(SRC.rglob("*.py")) for imp in _imports(path)]


def _unit(module: str) -> str:
    """The layered unit a veil module belongs to: a package name or a foundation module."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in PACKAGES:
        return parts[1]
    return ".".join(parts[:2]) if len(parts) >= 2 else "veil"


def _layer(unit: str) -> int:
    if unit in PACKAGES:
        return LAYERS[PACKAGES[unit]]
    full = unit if unit.startswith("veil") else f"veil.{unit}"
    assert full in FOUNDATION, f"{full} is in no layer: add it to this test's table"
    return LAYERS["foundation"]


def _package_of(module: str) -> str:
    unit = _unit(module)
    return f"veil.{unit}" if unit in PACKAGES else unit


def test_the_walk_sees_the_code() -> None:
    # Guard against a vacuous pass: the walk finds the imports we know exist.
    pairs = {(_package_of(i.module), _package_of(i.target)) for i in ALL_IMPORTS}
    assert ("veil.vault", "veil.crypto") in pairs
    assert ("veil.api", "veil.vault") in pairs
    assert ("veil.cli", "veil.sim") in pairs  # a lazy import inside a function
    assert any(i.target == "cryptography.hazmat.primitives.ciphers.aead" for i in ALL_IMPORTS)


def test_every_package_has_a_layer() -> None:
    for path in SRC.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            assert path.name in PACKAGES, f"veil.{path.name} is in no layer"
        elif path.suffix == ".py" and path.stem != "__init__":
            assert f"veil.{path.stem}" in FOUNDATION, f"veil.{path.stem} is in no layer"


def _violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        if imp.target != "veil" and not imp.target.startswith("veil."):
            continue
        source, target = _unit(imp.module), _unit(imp.target)
        if source == target:
            continue
        pair = (_package_of(imp.module), _package_of(imp.target))
        if pair in EXCEPTIONS:
            continue
        low, high = _layer(target), _layer(source)
        # Within a layer packages may share, except the primitives: crypto and
        # store know nothing of each other.
        if low < high or (low == high and high != LAYERS["primitives"]):
            continue
        problems.append(f"{imp.where} imports {imp.target} (up or across the layers)")
    return problems


def test_imports_point_down_the_layers() -> None:
    assert _violations(ALL_IMPORTS) == []


def test_crypto_and_store_import_only_the_foundation() -> None:
    allowed = {"veil.errors", "veil.ids", "veil.clock", "veil.config"}
    for imp in ALL_IMPORTS:
        if _unit(imp.module) not in ("crypto", "store") or not imp.target.startswith("veil."):
            continue
        if _unit(imp.target) == _unit(imp.module):
            continue
        assert _package_of(imp.target) in allowed, f"{imp.where} imports {imp.target}"


@pytest.mark.parametrize("library", sorted(CONFINED))
def test_hazardous_libraries_stay_in_their_package(library: str) -> None:
    for imp in ALL_IMPORTS:
        if imp.target.split(".")[0] == library:
            assert _unit(imp.module) in CONFINED[library], f"{imp.where} imports {library}"


@pytest.mark.parametrize("package", sorted(TEST_AND_DEMO_ONLY))
def test_production_code_never_imports_sim_or_testing(package: str) -> None:
    for imp in ALL_IMPORTS:
        if _package_of(imp.target) == package:
            assert _unit(imp.module) in TEST_AND_DEMO_ONLY[package], (
                f"{imp.where} imports {package}"
            )


def test_the_rule_catches_upward_and_sideways_imports() -> None:
    # The checker itself, on imports that do not exist in the code.
    probes = [
        Import("veil.crypto._probe", "veil.vault", 1),  # up
        Import("veil.crypto._probe", "veil.store", 2),  # across the primitives
        Import("veil.store._probe", "veil.policy._engine", 3),  # up
        Import("veil.errors", "veil.crypto", 4),  # the foundation reaching up
        Import("veil.policy._probe", "veil.api", 5),  # up to an edge
    ]
    assert len(_violations(probes)) == len(probes)
    allowed = [
        Import("veil.api._probe", "veil.vault", 1),
        Import("veil.vault._probe", "veil.crypto", 2),
        Import("veil.audit._probe", "veil.policy", 3),
        Import("veil.crypto._probe", "veil.errors", 4),
    ]
    assert _violations(allowed) == []
