"""The shape of the package (docs/adr/0006-module-layout.md): every module stays short.

A module holds one concern; 400 lines is the guide (python-tuf's one-concern `_payload.py`
shows a longer one can be fine, so a real exception is listed here with its reason).
"""

from __future__ import annotations

from pathlib import Path

import ceremony

MAX_LINES = 400
PACKAGE = Path(ceremony.__file__).parent

# Modules still being split, each with the step that removes it from this list.
NOT_YET_SPLIT = {
    "tokens/pkcs11_backend.py": "split into tokens/pkcs11/ (issue 8, the tokens branch)",
}


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
