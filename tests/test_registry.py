"""Meta-tests over the registries: nothing unregistered, names consistent."""

from __future__ import annotations

import importlib
import pkgutil

from forensics import formats

HELPERS = {
    "apache_time",
    "awslog",
    "base",
    "fieldlist",
    "jsonmap",
    "layout",
    "layout_apache",
    "layoutspec",
    "linefmt",
    "splitplan",
    "sqltext",
    "times",
}


def test_every_format_module_is_registered() -> None:
    found = set()
    for mod in pkgutil.iter_modules(formats.__path__):
        if mod.name in HELPERS:
            assert not hasattr(importlib.import_module(f"forensics.formats.{mod.name}"), "FORMAT")
            continue
        module = importlib.import_module(f"forensics.formats.{mod.name}")
        assert hasattr(module, "FORMAT"), f"{mod.name} is neither a helper nor a format"
        found.add(module.FORMAT.name)
        assert formats.REGISTRY[module.FORMAT.name] is module.FORMAT
    assert found == set(formats.REGISTRY)


def test_every_format_documents_itself() -> None:
    for name, fmt in formats.REGISTRY.items():
        assert fmt.name == name
        assert fmt.description and fmt.example, name


def test_readme_formats_table_matches_registry() -> None:
    from tests.conftest import ROOT

    text = (ROOT / "README.md").read_text()
    section = text.split("## Formats", 1)[1].split("\n### ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| `")]
    documented = {ln.split("`")[1]: ln.split("|")[2].strip() for ln in rows}
    assert set(documented) == set(formats.REGISTRY)
    for name, desc in documented.items():
        assert desc == formats.REGISTRY[name].description, name
