"""Following a delegation from the parent over real DNS: a parent server with NS referrals and glue, child
servers on other loopback addresses (127.0.0.2, .3, ...) sharing one port, as a real delegation does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migrate_cli.core.errors import OperationFailed
from migrate_cli.dns.delegation import find_authoritative
from migrate_cli.dns.lab_peers import LabResolver, start_on_shared_port
from migrate_cli.dns.names import Expected
from migrate_cli.dns.servers import Server
from migrate_cli.dns.verify import Status, verify_domain
from migrate_cli.lab.dns_server import AuthoritativeServer, Fault, Record, Zone

FAST = 0.4
TOKEN = Expected("_verify.example.test.", "TXT", "tok")


def parent_zone(ns: dict[str, str]) -> Zone:
    """test. delegating example.test. to the given NS names (with glue)."""
    records = [Record("example", "NS", f"{name}.example.test.") for name in ns]
    records += [Record(f"{name}.example", "A", addr) for name, addr in ns.items()]
    return Zone("test.", records, ns=["a.nic"])


def child_zone(ns: dict[str, str], extra: list[Record] = ()) -> Zone:
    records = [Record("@", "NS", name) for name in ns] + [Record(name, "A", a) for name, a in ns.items()]
    return Zone("example.test.", [*records, Record("_verify", "TXT", "tok"), *extra], ns=list(ns))


class Tree:
    def __init__(self, port: int, servers: list[AuthoritativeServer]) -> None:
        self.port = port
        self.servers = {s.name: s for s in servers}

    @property
    def parent(self) -> list[Server]:
        return [Server("127.0.0.1", self.port)]


@pytest.fixture
def tree(request) -> Iterator[Tree]:
    """Parent lists ns1..ns3; ns1 and ns2 run the child zone (which lists only ns1, ns2); ns3 is lame
    in the way the test asks (param): 'absent' (nothing listens), 'refused' or 'consistent' (no ns3)."""
    mode = getattr(request, "param", "consistent")
    child_ns = {"ns1": "127.0.0.2", "ns2": "127.0.0.3"}
    parent_ns = dict(child_ns) if mode == "consistent" else {**child_ns, "ns3": "127.0.0.4"}
    child = child_zone(child_ns)
    specs = [(parent_zone(parent_ns), "parent", "127.0.0.1"), (child, "ns1", "127.0.0.2"), (child, "ns2", "127.0.0.3")]
    if mode == "refused":
        specs.append((Zone("other.test."), "ns3", "127.0.0.4"))  # answers, but not for example.test.
    port, servers = start_on_shared_port(specs)
    yield Tree(port, servers)
    for s in servers:
        s.stop()


def test_consistent_delegation_found_from_the_parent(tree: Tree) -> None:
    d = find_authoritative("example.test.", start_at=tree.parent, timeout=FAST)
    assert d.zone == "example.test." and d.parent_zone == "test."
    assert d.parent_ns == d.zone_ns == ["ns1.example.test.", "ns2.example.test."]
    assert [(s.host, s.port, s.name) for s in d.servers] == [
        ("127.0.0.2", tree.port, "ns1.example.test."),
        ("127.0.0.3", tree.port, "ns2.example.test."),
    ]
    assert d.lame == {} and set(d.listed_by.values()) == {"both"}
    report = verify_domain("example.test.", [TOKEN], parent=tree.parent, resolvers=[], timeout=FAST)
    assert report.ok and report.findings == [] and report.delegation is not None


def test_name_below_the_apex_finds_its_zone(tree: Tree) -> None:
    d = find_authoritative("www.example.test.", start_at=tree.parent, timeout=FAST)
    assert d.zone == "example.test." and len(d.servers) == 2


@pytest.mark.parametrize("tree", ["absent"], indirect=True)
def test_inconsistent_and_lame_delegation(tree: Tree) -> None:
    report = verify_domain("example.test.", [TOKEN], parent=tree.parent, resolvers=[], timeout=FAST)
    d = report.delegation
    assert d is not None
    assert d.parent_ns == ["ns1.example.test.", "ns2.example.test.", "ns3.example.test."]
    assert d.zone_ns == ["ns1.example.test.", "ns2.example.test."]
    ns3 = f"ns3.example.test (127.0.0.4:{tree.port})"
    assert d.lame == {ns3: "does not answer (timeout)"}
    assert [r.status for r in report.records[0].authoritative] == [Status.PRESENT, Status.PRESENT, Status.TIMEOUT]
    assert not report.ok  # every authoritative server must have it, and ns3 is one as far as the parent says
    kinds = [f.kind for f in report.findings]
    assert kinds == ["inconsistent_delegation", "lame_delegation", "partial"]
    assert "the parent zone (test) lists ns1.example.test, ns2.example.test, ns3.example.test" in (
        report.findings[0].message
    )
    assert report.findings[1].message == (
        f"Lame delegation: {ns3} is listed by the parent but does not answer (timeout)."
    )


@pytest.mark.parametrize("tree", ["refused"], indirect=True)
def test_lame_server_that_refuses(tree: Tree) -> None:
    d = find_authoritative("example.test.", start_at=tree.parent, timeout=FAST)
    assert list(d.lame.values()) == ["is not authoritative for example.test (REFUSED)"]


def test_the_zone_lists_a_server_the_parent_does_not() -> None:
    ns = {"ns1": "127.0.0.2", "ns2": "127.0.0.3"}
    child = child_zone({**ns, "ns3": "127.0.0.4"})
    specs = [(parent_zone(ns), "parent", "127.0.0.1")] + [(child, n, a) for n, a in {**ns, "ns3": "127.0.0.4"}.items()]
    port, servers = start_on_shared_port(specs)
    try:
        d = find_authoritative("example.test.", start_at=[Server("127.0.0.1", port)], timeout=FAST)
    finally:
        for s in servers:
            s.stop()
    assert d.listed_by["ns3.example.test."] == "zone"
    assert Server("127.0.0.4", port, "ns3.example.test.") in d.servers  # checked too: resolvers will use it


def test_two_levels_of_referral_from_a_root() -> None:
    root_soa = Record("@", "SOA", "a.root. hostmaster.root. 1 3600 600 86400 300")  # Zone(".") needs one given
    root = Zone(".", [root_soa, Record("test.", "NS", "a.nic.test."), Record("a.nic.test.", "A", "127.0.0.5")],
                ns=["a.root."])  # fmt: skip
    tld = Zone(
        "test.",
        [Record("example", "NS", "ns1.example.test."), Record("ns1.example", "A", "127.0.0.2")],
        ns=["a.nic"],
    )
    child = child_zone({"ns1": "127.0.0.2"})
    port, servers = start_on_shared_port(
        [(root, "root", "127.0.0.1"), (tld, "tld", "127.0.0.5"), (child, "ns1", "127.0.0.2")]
    )
    try:
        d = find_authoritative("example.test.", start_at=[Server("127.0.0.1", port)], timeout=FAST)
    finally:
        for s in servers:
            s.stop()
    assert d.zone == "example.test." and d.parent_zone == "test."
    assert d.parent_servers == [Server("127.0.0.5", port, "a.nic.test.")]
    assert [s.host for s in d.servers] == ["127.0.0.2"]


def test_starting_at_the_zone_itself_has_no_parent_view(tree: Tree) -> None:
    ns1 = Server("127.0.0.2", tree.port)
    d = find_authoritative("example.test.", start_at=[ns1], timeout=FAST)
    assert d.zone == "example.test." and d.parent_ns == [] and d.parent_zone is None
    assert d.servers == [ns1]


def test_no_parent_answers(tree: Tree) -> None:
    tree.servers["parent"].set_fault(Fault.SERVFAIL)
    with pytest.raises(OperationFailed, match="no name server answered for example.test.*SERVFAIL"):
        find_authoritative("example.test.", start_at=tree.parent, timeout=FAST)


@pytest.mark.parametrize("tree", ["consistent"], indirect=True)
def test_parent_found_through_a_recursive_resolver(tree: Tree) -> None:
    """The real-world path: no start servers; a resolver finds the parent zone (test.) and its servers.

    The resolver is a `LabResolver` forwarding to the parent server (a stand-in for a recursive resolver);
    every server found is asked on the tree's shared port instead of 53.
    """
    import dns.resolver

    resolver = LabResolver([Server("127.0.0.1", tree.port)])
    resolver.start()
    try:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.port, res.lifetime = ["127.0.0.1"], resolver.port, 2.0
        d = find_authoritative("example.test.", timeout=FAST, resolver=res, port=tree.port)
    finally:
        resolver.stop()
    assert d.parent_zone == "test." and d.parent_servers == [Server("127.0.0.1", tree.port, "a.nic.test.")]
    assert d.zone == "example.test." and [s.host for s in d.servers] == ["127.0.0.2", "127.0.0.3"]


def test_no_parent_through_the_resolver() -> None:
    import dns.resolver

    dead = LabResolver([])  # answers SERVFAIL to everything: the parent zone cannot be found
    dead.start()
    try:
        res = dns.resolver.Resolver(configure=False)
        res.nameservers, res.port, res.lifetime = ["127.0.0.1"], dead.port, 1.0
        with pytest.raises(OperationFailed, match="cannot find the parent zone of example.test. through the system"):
            find_authoritative("example.test.", timeout=FAST, resolver=res)
    finally:
        dead.stop()
