"""Every upstream case that cannot pass is an xfail, and the README's "Differences from OTP"
table names it (issue 11: "every case passes or is an xfail listed in the README")."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

from tests.otp import conformance

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()


def _differences_section() -> str:
    """The README's ``## Differences from OTP`` section with its ``###`` subsections."""
    match = re.search(r"^## Differences from OTP\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match is not None, "README has no '## Differences from OTP' section"
    return match.group(1)


def _xfail_cases() -> list[str]:
    names = []
    for info in pkgutil.iter_modules(conformance.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{conformance.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            marks = getattr(fn, "pytestmark", [])
            if name.startswith("test_") and any(m.name == "xfail" for m in marks):
                names.append(name)
    return names


def test_every_xfail_of_the_conformance_suite_is_listed_in_the_readme() -> None:
    cases = _xfail_cases()
    assert cases, "the suite has known differences; the xfails were not found"
    missing = [name for name in cases if f"`{name}`" not in _differences_section()]
    assert not missing, f"xfail cases missing from README 'Differences from OTP': {missing}"


@pytest.mark.parametrize("name", _xfail_cases())
def test_every_xfail_is_strict(name: str) -> None:
    for info in pkgutil.iter_modules(conformance.__path__):
        module = importlib.import_module(f"{conformance.__name__}.{info.name}")
        fn = getattr(module, name, None)
        if fn is not None:
            marks = [m for m in fn.pytestmark if m.name == "xfail"]
            assert marks[0].kwargs.get("strict") is True
            assert marks[0].kwargs.get("reason")
