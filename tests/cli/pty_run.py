"""Run `ceremony` on a pseudo-terminal of a given size, as a holder at a console would.

The command sees a real terminal (standard input, output and error are the pty, which is
also its controlling terminal, so the PIN prompt reads /dev/tty), `answers` are typed when
their prompt appears, and the screen text comes back without colour codes. What the command
wrote is what is checked: a line longer than the terminal would be wrapped by the terminal,
so a test asserts that no written line is longer than its width.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>]")


@dataclass
class Screen:
    code: int
    text: str  # everything written, colour codes removed, \r\n as \n

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")


def run_on_tty(
    args: Sequence[str | Path],
    *,
    cols: int,
    rows: int = 24,
    answers: Sequence[tuple[str, str]] = (),
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Screen:
    """Run `python -m ceremony ARGS` on a `cols`x`rows` pty; each (prompt, answer) pair
    types `answer` once `prompt` has appeared in the output (spaces and line breaks counted
    as one space), in order."""
    return run_program_on_tty(
        [sys.executable, "-m", "ceremony", *map(str, args)],
        cols=cols,
        rows=rows,
        answers=answers,
        env=env,
        timeout=timeout,
    )


def run_program_on_tty(
    argv: Sequence[str],
    *,
    cols: int = 80,
    rows: int = 24,
    answers: Sequence[tuple[str, str]] = (),
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> Screen:
    """Run any program on a pty, as `run_on_tty` does (e.g. softhsm2-util, which reads its
    PINs from the terminal only)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    e = dict(env or os.environ)
    e.pop("COLUMNS", None)
    e.pop("LINES", None)
    e["TERM"] = "xterm"

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=e,
        start_new_session=True,
        preexec_fn=controlling_tty,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"{list(argv)} did not finish: {out.decode(errors='replace')}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                plain = _ANSI.sub("", out.decode(errors="replace"))
                if pending and pending[0][0] in " ".join(plain[-2000:].split()):
                    answer = pending.pop(0)[1]
                    os.write(master, answer.encode() + b"\n")
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
    code = proc.wait(timeout=30)
    text = _ANSI.sub("", out.decode(errors="replace")).replace("\r\n", "\n").replace("\r", "")
    return Screen(code, text)
