"""Read the runbooks' examples and run them exactly as written.

A runbook scenario is the text between ``<!-- scenario: NAME -->`` and ``<!-- /scenario -->``.
Its fenced blocks are steps, in order:

- ```` ```sh ````: one ``ceremony ...`` command per line (``\\`` continues a line, ``#`` starts a
  comment). ``$VAR`` / ``${VAR}`` are replaced from the runner's variables (an unknown variable
  is an error). A comment saying ``exit N`` sets the expected exit code (default 0).
- ```` ```yaml ````: an edit to a plan; its first line is ``# DIR/ceremony.yaml``. Mappings are
  merged two levels deep (``roles.root`` or ``keys.root-carol-2`` replaced or added, the rest
  kept); anything else is replaced.
- ```` ```text expect ````: every line must appear in the output of the command before it
  (whitespace runs count as one space; ``…`` stands for any text within the line).

Only ``ceremony`` commands may appear in a scenario, so everything a runbook tells people to type
during a ceremony is run by the tests. A runner may allow other programs by name (``programs``,
e.g. ``openssl`` for a key in cold storage): those lines are run as written too, or handed to
a function of the test (``handlers``: e.g. ``softhsm2-util``, which reads PINs from a
terminal, or ``.`` to activate a venv). ``~/`` at the start of a word is the runner's HOME,
as a shell would expand it.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"

_START = re.compile(r"^<!--\s*scenario:\s*([A-Za-z0-9_.-]+)\s*-->\s*$")
_END = re.compile(r"^<!--\s*/scenario\s*-->\s*$")
_FENCE = re.compile(r"^```(.*)$")
_VAR = re.compile(r"\$(?:\{([A-Z0-9_]+)\}|([A-Z0-9_]+))")
_EXIT = re.compile(r"#.*\bexit (\d+)")


@dataclass(frozen=True)
class Block:
    kind: str  # "sh" | "yaml" | "expect"
    text: str
    line: int  # 1-based line of the opening fence, for messages

    def where(self, path: Path) -> str:
        return f"{path.name}:{self.line}"


@dataclass(frozen=True)
class Command:
    argv: list[str]  # without the leading program name ("ceremony")
    exit_code: int
    source: str  # the line as written
    program: str = "ceremony"


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    blocks: list[Block]

    def commands(self, programs: Sequence[str] = ("ceremony",)) -> list[Command]:
        out: list[Command] = []
        for b in self.blocks:
            if b.kind == "sh":
                out += parse_commands(b.text, lambda s: s, programs)
        return out


def read_scenarios(path: Path) -> dict[str, Scenario]:
    """Every scenario of a runbook, by name."""
    scenarios: dict[str, Scenario] = {}
    current: str | None = None
    blocks: list[Block] = []
    fence: tuple[str, int, list[str]] | None = None
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fence is not None:
            if line.strip() == "```":
                info, start, body = fence
                if current is not None:
                    kind = _kind(info, path, start)
                    if kind is not None:
                        blocks.append(Block(kind, "\n".join(body), start))
                fence = None
            else:
                fence[2].append(line)
            continue
        m = _FENCE.match(line.strip())
        if m:
            fence = (m.group(1).strip(), no, [])
            continue
        m = _START.match(line.strip())
        if m:
            if current is not None:
                raise ValueError(f"{path.name}:{no}: scenario {m.group(1)} inside {current}")
            current, blocks = m.group(1), []
            continue
        if _END.match(line.strip()):
            if current is None:
                raise ValueError(f"{path.name}:{no}: end of a scenario that did not start")
            if current in scenarios:
                raise ValueError(f"{path.name}:{no}: scenario {current} defined twice")
            scenarios[current] = Scenario(current, path, blocks)
            current = None
    if current is not None or fence is not None:
        raise ValueError(f"{path.name}: unterminated scenario or code block")
    return scenarios


def _kind(info: str, path: Path, line: int) -> str | None:
    words = info.split()
    if not words:
        raise ValueError(f"{path.name}:{line}: a code block in a scenario needs a language")
    if words[0] in ("sh", "yaml"):
        return words[0]
    if words[0] == "text" and "expect" in words[1:]:
        return "expect"
    return None  # illustration only, not run


def parse_commands(
    text: str, expand: Callable[[str], str], programs: Sequence[str] = ("ceremony",)
) -> list[Command]:
    joined: list[str] = []
    buf = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        joined.append(buf + raw)
        buf = ""
    if buf:
        joined.append(buf)
    out: list[Command] = []
    for line in joined:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _EXIT.search(stripped)
        argv = shlex.split(expand(stripped), comments=True)
        if argv[0] not in programs:
            allowed = " and ".join(programs)
            raise ValueError(f"only {allowed} commands may appear in a scenario: {stripped!r}")
        out.append(Command(argv[1:], int(m.group(1)) if m else 0, stripped, argv[0]))
    return out


def merge_plan(plan: dict[str, Any], edit: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """The plan with `edit` applied (see the module docstring)."""
    out = dict(plan)
    for key, value in edit.items():
        if depth < 1 and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_plan(dict(out[key]), value, depth + 1)
        else:
            out[key] = value
    return out


def line_matches(expected: str, output: str) -> bool:
    """`expected` (with … as a wildcard) is within one line of `output`, spaces normalised."""
    parts = [re.escape(" ".join(p.split())) for p in expected.split("…")]
    pattern = re.compile(r".*".join(parts))
    return any(pattern.search(" ".join(ln.split())) for ln in output.splitlines())


@dataclass
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Runner:
    """Runs scenario steps with `cwd` as the working directory, one process per command."""

    cwd: Path
    env: dict[str, str]
    variables: Callable[[str], str]  # $NAME -> value
    stdin_for: Callable[[list[str]], Sequence[str]]
    secrets: Sequence[str] = ()
    key_type: str | None = "ed25519"  # None: keygen lines run with the type they say
    log: list[Outcome] = field(default_factory=list)
    programs: Sequence[str] = ("ceremony",)  # what a scenario may run
    # program -> a function that runs its line (the whole argv, the program's name first)
    handlers: Mapping[str, Callable[[list[str]], Outcome]] = field(default_factory=dict)
    # Added to every plan the scenario writes or `init` makes (e.g. {"rehearsal": True} where
    # SoftHSM2 stands in for the holders' hardware tokens: a rehearsal token, refused in any
    # other plan). The runbooks show the plans of a real ceremony.
    plan_defaults: Mapping[str, Any] = field(default_factory=dict)

    def home(self, argv: list[str]) -> list[str]:
        """`~/x` as a shell expands it, with the runner's HOME."""
        home = self.env.get("HOME", "~")
        return [f"{home}/{a[2:]}" if a.startswith("~/") else a for a in argv]

    def expand(self, line: str) -> str:
        return _VAR.sub(lambda m: self.variables(m.group(1) or m.group(2)), line)

    def run(
        self, argv: Sequence[str], *, expect: int | None = 0, program: str = "ceremony"
    ) -> Outcome:
        argv = list(argv)
        command = [sys.executable, "-m", "ceremony"] if program == "ceremony" else [program]
        proc = subprocess.run(
            [*command, *argv],
            input="".join(f"{s}\n" for s in self.stdin_for(argv)),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=180,
            check=False,
        )
        res = Outcome(argv, proc.returncode, proc.stdout, proc.stderr)
        self.log.append(res)
        made = argv[:1] in (["init"], ["import"])  # the commands that write a plan
        if program == "ceremony" and made and res.code == 0 and self.plan_defaults:
            self._add_plan_defaults(self.cwd / argv[1] / "ceremony.yaml")
        for secret in self.secrets:
            assert secret not in res.text, f"a PIN appeared in the output of {argv}"
        assert "Traceback" not in res.text, res.text
        if expect is not None:
            assert res.code == expect, (
                f"`ceremony {shlex.join(argv)}` exited {res.code}, expected {expect}\n{res.text}"
            )
        return res

    def run_scenario(self, sc: Scenario) -> list[Outcome]:
        done: list[Outcome] = []
        last: Outcome | None = None
        for b in sc.blocks:
            where = b.where(sc.path)
            if b.kind == "sh":
                for cmd in parse_commands(b.text, self.expand, self.programs):
                    argv = self.home(cmd.argv)
                    if cmd.program == "ceremony":
                        argv = self._with_key_type(argv)
                    try:
                        handler = self.handlers.get(cmd.program)
                        if handler is None:
                            last = self.run(argv, expect=cmd.exit_code, program=cmd.program)
                        else:
                            last = handler([cmd.program, *argv])
                            assert last.code == cmd.exit_code, (
                                f"`{cmd.source}` exited {last.code}, expected {cmd.exit_code}\n"
                                f"{last.text}"
                            )
                    except AssertionError as exc:
                        raise AssertionError(f"{where}: {exc}") from None
                    done.append(last)
            elif b.kind == "yaml":
                self.apply_plan_edit(b, where)
            else:
                assert last is not None, f"{where}: an expect block before any command"
                for want in (ln.strip() for ln in b.text.splitlines()):
                    if want and not line_matches(want, last.text):
                        raise AssertionError(
                            f"{where}: `ceremony {shlex.join(last.argv)}` did not print "
                            f"{want!r}; it printed:\n{last.text}"
                        )
        return done

    def _with_key_type(self, argv: list[str]) -> list[str]:
        """The runner's key type in keygen lines (those of the rotation runbooks say ed25519);
        with no key type, lines are run as written."""
        if argv and argv[0] == "keygen" and self.key_type is not None:
            i = argv.index("--type")
            assert argv[i + 1] == "ed25519", "runbook keygen lines say --type ed25519"
            argv = [*argv[: i + 1], self.key_type, *argv[i + 2 :]]
        return argv

    def apply_plan_edit(self, b: Block, where: str) -> None:
        first = b.text.splitlines()[0].strip()
        m = re.match(r"^#\s*(\S+/ceremony\.yaml)\s*$", first)
        assert m, f"{where}: a plan edit starts with '# DIR/ceremony.yaml'"
        path = self.cwd / m.group(1)
        edit = yaml.safe_load(b.text)
        assert isinstance(edit, dict), f"{where}: a plan edit is a mapping"
        plan = yaml.safe_load(path.read_text(encoding="utf-8"))
        plan = merge_plan(merge_plan(plan, edit), dict(self.plan_defaults))
        path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")

    def _add_plan_defaults(self, path: Path) -> None:
        """`plan_defaults` added to a plan `init` wrote (its comments kept: appended lines)."""
        text = path.read_text(encoding="utf-8")
        plan = yaml.safe_load(text)
        missing = {k: v for k, v in self.plan_defaults.items() if plan.get(k) != v}
        if missing:
            path.write_text(text + yaml.safe_dump(missing, sort_keys=False), encoding="utf-8")
