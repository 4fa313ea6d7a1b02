"""The one place YAML is read: a strict loader (safe types, no duplicate keys, no aliases).

Reviewers approve the plan as they read it, so nothing in it may mean something they do not
see: a duplicate key (the second silently wins), an alias (a value written elsewhere), a
second document. Each is refused with its line and column. So is nesting deeper than
`MAX_PLAN_DEPTH` (a plan nests 5 levels): the events are walked first, without recursion,
because the YAML composer recurses once per level and a 1 MiB file can nest 500,000 deep.
"""

from __future__ import annotations

from typing import Any

import yaml

from ceremony.errors import PlanError
from ceremony.plan.yaml_errors import explain, with_caret

MAX_PLAN_BYTES = 1024 * 1024
MAX_PLAN_DEPTH = 16  # targets.delegations[i].hash_bins.keys[j] is 5 levels


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects duplicate keys and aliases (no `&anchor` / `*ref`)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"keys must be text, found {key!r}", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node))


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_events(text: str, source: str) -> None:
    """Refuse anchors, aliases and deep nesting from the parser's events (no recursion)."""
    depth = 0
    # libyaml's parser when present (the same events, 10x faster), else PyYAML's own.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise PlanError(
                f"{source}: YAML anchors and aliases (&name, *name) are not allowed in a "
                "plan; write every value out so reviewers see it."
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_PLAN_DEPTH:
                mark = event.start_mark
                where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
                raise PlanError(
                    f"{source}: the YAML nests more than {MAX_PLAN_DEPTH} levels deep{where}; a "
                    "plan nests at most 5. Check that this is the ceremony's plan."
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_yaml(text: str, source: str = "ceremony.yaml") -> Any:
    """Load one YAML document strictly (safe types, no duplicate keys, no aliases)."""
    if len(text.encode("utf-8")) > MAX_PLAN_BYTES:
        raise PlanError(f"{source}: the file is larger than 1 MiB; a plan is a short text file.")
    try:
        _check_events(text, source)
        docs = list(yaml.load_all(text, Loader=_StrictLoader))
    except (yaml.scanner.ScannerError, yaml.parser.ParserError) as exc:
        ex = explain(exc, text)
        if ex is not None:
            raise PlanError(
                f"{source}: not valid YAML (line {ex.line + 1}, column {ex.column + 1}): "
                f"{ex.what}.\n{with_caret(text, ex)}\nFix the file and run the command again."
            ) from None
        raise PlanError(
            f"{source}: not valid YAML: {exc.problem or exc}. Fix the file and run the command "
            "again."
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanError(
            f"{source}: not valid YAML{where}: {problem}. Fix the file and run the command again."
        ) from None
    if not docs or (len(docs) == 1 and docs[0] is None):
        raise PlanError(
            f"{source} is empty: it holds no plan (nothing, or only comments). Write the plan "
            "into it (repository, root, roles, keys) and run the command again."
        )
    if len(docs) != 1:
        raise PlanError(
            f"{source}: expected exactly one YAML document, found {len(docs)}. "
            "Remove extra '---' separators."
        )
    return docs[0]
