"""A network of its own for each nats-server, so the fault suite can partition one node.

Loopback cannot be cut for one process: all three nodes would share `lo`, and this machine
has no iptables or nft to drop one node's ports. So each node runs in a network namespace
(`ip netns`) with one veth pair to a bridge in the machine's namespace; the services stay
in the machine's namespace and reach the nodes through the bridge, as pods reach a NATS
service. Partitioning a node takes its veth's bridge side down: packets to and from it are
dropped silently, as on a real network split (no reset: each side must notice by its own
timeouts), cutting it from the other nodes and from every client at once.

Needs root (CAP_NET_ADMIN) and iproute2's `ip`; `available()` says why not, for a skip.
"""

import contextlib
import ipaddress
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

IP = "ip"


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if shutil.which(IP) is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"icc-probe-{secrets.token_hex(3)}"
    made = subprocess.run([IP, "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` refused: {made.stderr.strip()[:200]}"
    subprocess.run([IP, "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    done = subprocess.run([IP, *args], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.128.0.0/9 that no route of this machine touches (other runs may hold
    one: the machine is shared)."""
    routes = subprocess.run([IP, "-4", "route", "show", "table", "all"], capture_output=True)
    taken = routes.stdout.decode()
    for _ in range(100):
        net = ipaddress.IPv4Network(
            f"10.{secrets.randbelow(128) + 128}.{secrets.randbelow(256)}.0/24"
        )
        if str(net.network_address)[:-1] not in taken:
            return net
    raise RuntimeError("no free 10.x.y.0/24 for the NATS nodes' network")


@dataclass
class NodeNetwork:
    """`size` namespaces on one bridge; node i answers at `hosts[i]`."""

    size: int
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    made: list[tuple[str, str]] = field(default_factory=list)  # what to undo, in reverse

    @property
    def bridge(self) -> str:
        return f"iccb{self.tag}"  # interface names: 15 characters at most

    def namespace(self, i: int) -> str:
        return f"icc-{self.tag}-{i}"

    def veth(self, i: int) -> str:
        return f"icc{self.tag}h{i}"

    @property
    def hosts(self) -> list[str]:
        first = self.subnet.network_address
        return [str(first + 2 + i) for i in range(self.size)]

    def create(self) -> None:
        try:
            gateway = f"{self.subnet.network_address + 1}/{self.subnet.prefixlen}"
            _ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            _ip("addr", "add", gateway, "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for i, host in enumerate(self.hosts):
                ns, veth, peer = self.namespace(i), self.veth(i), f"icc{self.tag}p{i}"
                _ip("netns", "add", ns)
                self.made.append(("netns", ns))
                _ip("link", "add", veth, "type", "veth", "peer", "name", peer)
                self.made.append(("link", veth))
                _ip("link", "set", peer, "netns", ns)
                _ip("-n", ns, "link", "set", peer, "name", "eth0")
                _ip("-n", ns, "addr", "add", f"{host}/{self.subnet.prefixlen}", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("link", "set", veth, "master", self.bridge)
                _ip("link", "set", veth, "up")
        except BaseException:
            self.remove()
            raise

    def argv(self, i: int, argv: list[str]) -> list[str]:
        """`argv` run inside node i's namespace (`ip netns exec` execs it: same pid)."""
        return [IP, "netns", "exec", self.namespace(i), *argv]

    def partition(self, i: int) -> None:
        _ip("link", "set", self.veth(i), "down")

    def heal(self, i: int) -> None:
        _ip("link", "set", self.veth(i), "up")

    def remove(self) -> None:
        """Everything made, newest first; a veth's peer goes with it."""
        while self.made:
            kind, name = self.made.pop()
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _ip(kind, "del", name)
