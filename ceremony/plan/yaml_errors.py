"""YAML syntax errors in plain words: which line is wrong, what is wrong with it, and the
line itself with a caret under the place.

PyYAML and libyaml report where their parser noticed a problem, in parser terms ("expected
<block end>, but found '<block mapping start>'", "did not find expected key"), often on the
line AFTER the mistake. The common
mistakes in a hand-edited plan are told apart here: indentation that does not line up, a
tab, a missing ':', an unclosed '{', '[' or quote, and an unquoted ': ' in a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

# PyYAML's token names, in words.
_TOKENS = {
    "<block end>": "the end of an indented block",
    "<block mapping start>": "a new, more indented block",
    "<block sequence start>": "a '- ' list item",
    "<scalar>": "a value",
    "<flow mapping start>": "'{'",
    "<flow sequence start>": "'['",
    "<stream end>": "the end of the file",
}


@dataclass(frozen=True)
class Explained:
    line: int  # 0-based line of the mistake
    column: int  # 0-based column
    what: str  # the mistake, in words
    show: tuple[int, ...]  # 0-based lines to print, the caret under `line`


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _previous_content(lines: list[str], n: int) -> int | None:
    for i in range(min(n, len(lines)) - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def _words(problem: str) -> str:
    for token, words in _TOKENS.items():
        problem = problem.replace(f"'{token}'", words).replace(token, words)
    return problem


def explain(exc: yaml.MarkedYAMLError, text: str) -> Explained | None:
    """The mistake behind a YAML scanner or parser error, or None when it has no position."""
    lines = text.splitlines()
    pm, cm = exc.problem_mark, exc.context_mark
    problem = exc.problem or ""
    context = exc.context or ""
    if pm is None:
        return None
    indentation = (
        "expected <block end>" in problem
        or "expected <block mapping start>" in problem
        or ("did not find expected key" in problem and "block mapping" in context)  # libyaml
    )
    if indentation:
        prev = _previous_content(lines, pm.line)
        if prev is not None and pm.line < len(lines):
            a, b = _indent(lines[prev]), _indent(lines[pm.line])
            return Explained(
                prev,
                a,
                f"the indentation does not line up: line {prev + 1} starts in column {a + 1} "
                f"and line {pm.line + 1} in column {b + 1}, yet they belong to one block. Lines "
                "of one block start in the same column (with spaces: 2 per level in the "
                "template)",
                (prev, pm.line),
            )
    at = lines[pm.line][pm.column : pm.column + 1] if pm.line < len(lines) else ""
    if "found character '\\t'" in problem or ("cannot start any token" in problem and at == "\t"):
        return Explained(
            pm.line, pm.column, "a tab character; YAML indentation must be spaces", (pm.line,)
        )
    if "could not find expected ':'" in problem and cm is not None:
        word = lines[cm.line][cm.column :].split()[0] if cm.line < len(lines) else ""
        return Explained(
            cm.line,
            cm.column,
            f"'{word}' is not followed by ':'; each line is written `key: value` (or `key:` "
            "with the value indented on the lines below)",
            (cm.line,),
        )
    for opener, closer, kind in (("{", "}", "flow mapping"), ("[", "]", "flow sequence")):
        if context.startswith(f"while parsing a {kind}") and cm is not None:
            found = _words(problem.split("but got ")[-1]) if "but got" in problem else ""
            where = ""
            if found:
                where = f" before {found} on line {pm.line + 1}, column {pm.column + 1}"
            elif pm.line != cm.line:
                where = f" (the file goes on without it on line {pm.line + 1})"
            return Explained(
                cm.line,
                cm.column,
                f"the '{opener}' here is not closed with '{closer}'{where}; close it, and "
                f"separate its items with ','",
                tuple(sorted({cm.line, min(pm.line, len(lines) - 1)})),
            )
    if context.startswith("while scanning a quoted scalar") and cm is not None:
        return Explained(
            cm.line,
            cm.column,
            "this quoted text is never closed: its closing quote is missing",
            (cm.line,),
        )
    if "mapping values are not allowed" in problem:
        return Explained(
            pm.line,
            pm.column,
            "a ':' inside a value; put a value that contains ': ' in quotes",
            (pm.line,),
        )
    return Explained(
        pm.line,
        pm.column,
        f"not what YAML allows here: {_words(problem)}"
        + (f" ({_words(context)} on line {cm.line + 1})" if cm is not None and context else ""),
        (min(pm.line, max(len(lines) - 1, 0)),),
    )


def with_caret(text: str, ex: Explained) -> str:
    """The lines `ex.show`, numbered, with a caret under the mistake."""
    lines = text.splitlines() or [""]
    width = len(str(max(ex.show) + 1))
    out = []
    for n in ex.show:
        if n >= len(lines):
            continue
        out.append(f"  {n + 1:>{width}} | {lines[n].replace(chr(9), '→')}")
        if n == ex.line:
            out.append(f"  {'':>{width}} | {' ' * ex.column}^")
    return "\n".join(out)
