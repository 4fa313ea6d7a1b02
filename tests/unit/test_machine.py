"""ceremony.machine.network: the kernel's files parsed (fake /proc/net and /sys/class/net)."""

from __future__ import annotations

from pathlib import Path

from ceremony.machine.network import Interface, network_state

DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets
    lo:       0       0    0    0    0     0          0         0        0       0
  eth0:    1000      10    0    0    0     0          0         0     1000      10
 wlan0:       0       0    0    0    0     0          0         0        0       0
"""
ROUTE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t000300C0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""
IPV6 = (
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n"
    "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
)


def _fake(tmp_path: Path, flags: dict[str, str], dev: str = DEV) -> tuple[Path, Path]:
    proc, sys_net = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "dev").write_text(dev)
    (proc / "route").write_text(ROUTE)
    (proc / "ipv6_route").write_text(IPV6)
    for name, value in flags.items():
        (sys_net / name).mkdir(parents=True)
        (sys_net / name / "flags").write_text(value + "\n")
    return proc, sys_net


def test_interfaces_routes_and_what_breaks_the_air_gap(tmp_path: Path) -> None:
    proc, sys_net = _fake(tmp_path, {"lo": "0x9", "eth0": "0x1003", "wlan0": "0x1002"})
    state = network_state(proc, sys_net)
    assert state.interfaces == [
        Interface("lo", True, True),
        Interface("eth0", True, False),
        Interface("wlan0", False, False),
    ]
    assert [r.describe() for r in state.routes] == [
        "ipv4 default via eth0",
        "ipv4 192.0.2.0/255.255.255.0 via eth0",  # the route without RTF_UP is left out
        "ipv6 00000000000000000000000000000001/128 via lo",
        "ipv6 fe800000000000000000000000000000/64 via eth0",
    ]
    assert state.problems == [
        "interface eth0 (up) is not loopback",
        "route ipv4 default via eth0",
        "route ipv4 192.0.2.0/255.255.255.0 via eth0",
        "route ipv6 fe800000000000000000000000000000/64 via eth0",
    ]


def test_an_interface_sysfs_does_not_show_is_not_taken_for_down(tmp_path: Path) -> None:
    """In a network namespace /sys may show the host's interfaces: an interface of this
    namespace without sysfs flags has an unknown state, which breaks the air gap."""
    dev = DEV.replace("  eth0:", "    v0:").replace(" wlan0:", "    v1:")
    proc, sys_net = _fake(tmp_path, {"lo": "0x9", "eth0": "0x1003"}, dev)
    (proc / "route").write_text(ROUTE.splitlines()[0] + "\n")
    (proc / "ipv6_route").write_text("")
    state = network_state(proc, sys_net)
    assert [i.describe() for i in state.interfaces] == [
        "lo (up)",
        "v0 (state unknown)",
        "v1 (state unknown)",
    ]
    assert state.problems == [
        "interface v0 (state unknown) is not loopback",
        "interface v1 (state unknown) is not loopback",
    ]


def test_loopback_only(tmp_path: Path) -> None:
    dev = "\n".join(DEV.splitlines()[:3]) + "\n"
    proc, sys_net = _fake(tmp_path, {"lo": "0x8"}, dev)
    (proc / "route").write_text(ROUTE.splitlines()[0] + "\n")
    (proc / "ipv6_route").write_text(IPV6.splitlines()[0] + "\n")
    assert network_state(proc, sys_net).problems == []
