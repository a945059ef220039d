"""Meta-tests over the registries: nothing unregistered, names consistent."""

from __future__ import annotations

import importlib
import pkgutil

from forensics import formats

HELPERS = {"base", "layout", "linefmt", "sqltext", "times"}


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
