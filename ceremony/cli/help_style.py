"""How `--help` names what to type: `DIR`, `ROLE`, `FILE`, as manual pages do.

Typer (0.28, pinned; and 0.29) writes a required argument as `{directory}`, an optional one as `[role]`, and a
parameter's Python type after it (`<path>`, `<str>`, `<list[Path]>`): notation for
developers, not for key holders. Here an argument is shown by its metavar (or its name in
capitals) and no parameter shows a Python type: an option shows its metavar (or its name in
capitals). `tests/cli/test_conventions.py` pins the result, so a Typer upgrade that
changes these hooks fails a test instead of changing the screens.
"""

from __future__ import annotations

from typing import Any

from typer import core


def _name(param: Any) -> str:
    return str(param.metavar or (param.name or "").upper())


def _argument_usage(self: Any) -> str:
    name = _name(self)
    if not self.required:
        name = f"[{name}]"
    if self.nargs != 1 and not name.rstrip("]").endswith("..."):
        name += "..."
    return name


def _argument_help_name(self: Any) -> str:
    name = _name(self)
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name


def _no_type(self: Any, ctx: Any) -> str | None:
    return None


def _option_value(self: Any, ctx: Any) -> str | None:
    name = _name(self)
    return name + ("..." if self.nargs != 1 else "")


def _argument_metavar(self: Any, ctx: Any, *, usage: bool = False) -> str:
    """Typer 0.28's usage line and plain help: `DIR`, `[ROLE]`, `FILE...`."""
    return _argument_usage(self) if usage else _argument_help_name(self)


def _option_metavar(self: Any, ctx: Any) -> str:
    """Typer 0.28's plain help: an option's metavar (or its name in capitals), no type."""
    return _option_value(self, ctx) or ""


def install() -> None:
    """Apply the conventions to Typer's parameter classes (once, when the CLI loads)."""
    setattr(core.TyperArgument, "make_metavar", _argument_metavar)  # noqa: B010
    setattr(core.TyperOption, "make_metavar", _option_metavar)  # noqa: B010
    setattr(core.TyperArgument, "_usage_display_name", _argument_usage)  # noqa: B010
    setattr(core.TyperArgument, "_rich_display_name", _argument_help_name)  # noqa: B010
    setattr(core.TyperArgument, "display_type_rich", _no_type)  # noqa: B010
    setattr(core.TyperOption, "display_type_rich", _option_value)  # noqa: B010
