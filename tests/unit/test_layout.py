"""The shape of the package (docs/adr/0006-module-layout.md): every module stays short.

A module holds one concern; 400 lines is the guide (python-tuf's one-concern `_payload.py`
shows a longer one can be fine, so a real exception is listed here with its reason).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import ceremony
from ceremony import services

MAX_LINES = 400
PACKAGE = Path(ceremony.__file__).parent

# Modules still being split, each with the step that removes it from this list.
NOT_YET_SPLIT: dict[str, str] = {}


def _modules() -> dict[str, int]:
    return {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def test_every_module_is_at_most_400_lines() -> None:
    too_long = {
        name: n for name, n in _modules().items() if n > MAX_LINES and name not in NOT_YET_SPLIT
    }
    assert not too_long, f"modules over {MAX_LINES} lines (split them by concern): {too_long}"


def test_the_exception_list_holds_only_long_modules() -> None:
    sizes = _modules()
    stale = [name for name in NOT_YET_SPLIT if sizes.get(name, 0) <= MAX_LINES]
    assert not stale, f"no longer over {MAX_LINES} lines (remove from NOT_YET_SPLIT): {stale}"


# --- the use cases are documented as an API -------------------------------------------------

USE_CASES = {
    "ceremony.services.init": ["init"],
    "ceremony.services.state": ["load"],
    "ceremony.services.enroll": ["enroll"],
    "ceremony.services.keygen": ["keygen", "keygen_yubikey"],
    "ceremony.services.drafts": ["draft", "show"],
    "ceremony.services.signing": ["sign"],
    "ceremony.services.merging": ["merge"],
    "ceremony.services.status": ["status"],
    "ceremony.services.export": ["export"],
    "ceremony.services.importing": ["import_file"],
    "ceremony.services.external": ["payload", "add_signature"],
    "ceremony.services.attestation": ["reverify_attestations"],
    "ceremony.services.copies": ["copy", "copy_state"],
}


def _public(module: ModuleType) -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }


def test_every_public_name_of_the_services_has_a_docstring() -> None:
    undocumented = []
    for info in pkgutil.iter_modules(services.__path__):
        module = importlib.import_module(f"ceremony.services.{info.name}")
        undocumented += [
            f"{module.__name__}.{n}" for n, o in _public(module).items() if not o.__doc__
        ]
    assert not undocumented, f"public names without a docstring: {undocumented}"


@pytest.mark.parametrize(("module_name", "names"), sorted(USE_CASES.items()))
def test_each_use_case_says_what_it_takes_returns_and_raises(
    module_name: str, names: list[str]
) -> None:
    module = importlib.import_module(module_name)
    for name in names:
        doc = inspect.getdoc(getattr(module, name)) or ""
        for section in ("Args:", "Raises:"):
            assert section in doc, f"{module_name}.{name}: no {section} section"
        assert "exit" in doc, f"{module_name}.{name}: its errors do not name their exit code"
