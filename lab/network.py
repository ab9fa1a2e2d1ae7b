"""The lab's network: a bridge in its own namespace, one namespace and veth per node."""

from __future__ import annotations

from lab.state import SUBNET_BASE, LabState
from lab.system import netns_list, root_links, run


def host_link_name(prefix: str) -> str:
    """Return the root-namespace veth name of a lab (at most 15 characters)."""
    return f"{prefix}h"


def node_addr(subnet: int, index: int) -> str:
    """Return the lab address of node number `index`."""
    return f"{SUBNET_BASE}.{subnet}.{10 + index}"


def host_addr(subnet: int) -> str:
    """Return the root namespace's address on the lab subnet (only with a host link)."""
    return f"{SUBNET_BASE}.{subnet}.1"


def create_fabric(state: LabState) -> None:
    """Create the bridge namespace, and the host link when the lab asks for one."""
    br = f"{state.prefix}-br"
    run("ip", "netns", "add", br)
    run("ip", "-n", br, "link", "set", "lo", "up")
    run("ip", "-n", br, "link", "add", "br0", "type", "bridge")
    run("ip", "-n", br, "link", "set", "br0", "up")
    if state.host_link:
        link = host_link_name(state.prefix)
        run("ip", "link", "add", link, "type", "veth", "peer", "name", "vh", "netns", br)
        run("ip", "-n", br, "link", "set", "vh", "master", "br0", "up")
        run("ip", "addr", "add", f"{host_addr(state.subnet)}/24", "dev", link)
        run("ip", "link", "set", link, "up")


def create_node_net(state: LabState, index: int, addr: str) -> str:
    """Create a node's namespace wired to the bridge; return the namespace name."""
    br, ns = f"{state.prefix}-br", f"{state.prefix}-n{index}"
    veth = f"v{index}"
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", veth, "netns", br)
    run("ip", "-n", br, "link", "set", veth, "master", "br0", "up")
    run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    return ns


def delete_net(prefix: str) -> None:
    """Delete every namespace and host link carrying the lab's prefix."""
    if host_link_name(prefix) in root_links():
        run("ip", "link", "del", host_link_name(prefix), check=False)
    for ns in netns_list():
        if ns.startswith(f"{prefix}-"):
            run("ip", "netns", "del", ns)
