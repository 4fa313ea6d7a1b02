"""The ceremony machine itself, as `ceremony preflight` checks it: read from the kernel's
files and the installed package's metadata, never from the network.

- `network`: interfaces and routes (/sys/class/net, /proc/net/dev, /proc/net/route,
  /proc/net/ipv6_route): is anything but loopback up?
- `install`: the installed files against their wheel RECORD hashes, a wheelhouse against its
  SHA256SUMS and its wheels, and the versions of the tool and its dependencies.
"""
