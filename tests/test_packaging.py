"""The package list in pyproject.toml must name every package folder, or a wheel would miss it."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    listed = set(config["packages"])
    found = set()
    for package, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder)
            found.add(".".join([package, *relative.parts]))
    assert found == listed


def test_core_never_imports_the_ui():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "core").rglob("*.py")
        if any(
            word in path.read_text() for word in ("import textual", "from textual", "ota_provider.tui", "from ..tui")
        )
    ]
    assert offenders == []
