"""Network interfaces and routes, read from the kernel's files (no socket is opened).

Interfaces are those of this process's network namespace (/proc/net/dev); their state comes
from /sys/class/net/NAME/flags (IFF_UP 0x1, IFF_LOOPBACK 0x8; include/uapi/linux/if.h) when
sysfs shows them. Routes: /proc/net/route (IPv4: Iface, Destination, Gateway, Flags, ...;
RTF_UP 0x1) and /proc/net/ipv6_route (IPv6: ten fields, the device last). An air-gapped
machine has no interface up but loopback, and no route through anything but loopback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
RTF_UP = 0x1


@dataclass(frozen=True)
class Interface:
    """One network interface of this namespace. `up` is None when its state cannot be read
    (sysfs shows another namespace)."""

    name: str
    up: bool | None
    loopback: bool

    def describe(self) -> str:
        state = {True: "up", False: "down", None: "state unknown"}[self.up]
        return f"{self.name} ({state})"


@dataclass(frozen=True)
class Route:
    """One route: "ipv4" or "ipv6", its device, and its destination as printed."""

    family: str
    device: str
    destination: str

    def describe(self) -> str:
        return f"{self.family} {self.destination} via {self.device}"


@dataclass(frozen=True)
class NetworkState:
    """The interfaces and routes, and what breaks the air gap (`problems`, empty: none)."""

    interfaces: list[Interface]
    routes: list[Route]

    @property
    def problems(self) -> list[str]:
        out = [
            f"interface {i.describe()} is not loopback"
            for i in self.interfaces
            if not i.loopback and i.up is not False
        ]
        out += [f"route {r.describe()}" for r in self.routes if r.device != "lo"]
        return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None


def interfaces(
    proc_net: Path = Path("/proc/net"), sys_net: Path = Path("/sys/class/net")
) -> list[Interface]:
    """The interfaces of this network namespace, loopback first."""
    dev = _read(proc_net / "dev") or ""
    names = [line.split(":", 1)[0].strip() for line in dev.splitlines()[2:] if ":" in line]
    if not dev and sys_net.is_dir():  # no /proc: what sysfs shows
        names = sorted(p.name for p in sys_net.iterdir())
    out = []
    for name in names:
        flags_text = _read(sys_net / name / "flags")
        try:
            flags = int(flags_text.strip(), 16) if flags_text else None
        except ValueError:
            flags = None
        loopback = name == "lo" or (flags is not None and bool(flags & IFF_LOOPBACK))
        out.append(Interface(name, None if flags is None else bool(flags & IFF_UP), loopback))
    return sorted(out, key=lambda i: (not i.loopback, i.name))


def _ipv4(hex_le: str) -> str:
    try:
        raw = bytes.fromhex(hex_le)[::-1]
    except ValueError:
        return hex_le
    return ".".join(str(b) for b in raw) if len(raw) == 4 else hex_le


def routes(proc_net: Path = Path("/proc/net")) -> list[Route]:
    """The routes of this network namespace (IPv4 routes that are up, and IPv6 routes)."""
    out: list[Route] = []
    for line in (_read(proc_net / "route") or "").splitlines()[1:]:
        f = line.split()
        if len(f) < 8:
            continue
        try:
            up = int(f[3], 16) & RTF_UP
        except ValueError:
            continue
        if up:
            dest = "default" if f[1] == "00000000" else f"{_ipv4(f[1])}/{_ipv4(f[7])}"
            out.append(Route("ipv4", f[0], dest))
    for line in (_read(proc_net / "ipv6_route") or "").splitlines():
        f = line.split()
        if len(f) != 10:
            continue
        dest = "default" if f[0] == "0" * 32 and f[1] == "00" else f"{f[0]}/{int(f[1], 16)}"
        out.append(Route("ipv6", f[9], dest))
    return out


def network_state(
    proc_net: Path = Path("/proc/net"), sys_net: Path = Path("/sys/class/net")
) -> NetworkState:
    """The network as this process sees it (see the module docstring for the sources)."""
    return NetworkState(interfaces(proc_net, sys_net), routes(proc_net))
