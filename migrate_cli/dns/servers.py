"""Name servers as the CLI names them: `HOST` or `HOST:PORT` (IPv6 as `[ADDR]:PORT`)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from migrate_cli.core.errors import OperationFailed

DNS_PORT = 53


@dataclass(frozen=True)
class Server:
    """One DNS server address to query; `name` is its NS name when known (e.g. from a delegation)."""

    host: str
    port: int = DNS_PORT
    name: str | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def label(self) -> str:
        """`ns1.example.com. (192.0.2.1:53)` or just the address when the name is unknown."""
        return f"{self.name.rstrip('.')} ({self.address})" if self.name else self.address

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "host": self.host, "port": self.port}


def parse_server(value: str) -> tuple[str, int]:
    """'HOST' or 'HOST:PORT' (IPv6 as [ADDR]:PORT) -> (host, port); ValueError when malformed."""
    text = value.strip()
    if text.startswith("["):
        addr, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"'{value}' is not HOST or HOST:PORT")
        host, port_text = addr, rest[1:] if rest else str(DNS_PORT)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        host, port_text = text, str(DNS_PORT)  # a bare IPv6 address
        ipaddress.IPv6Address(host)
    else:
        host, port_text = text, str(DNS_PORT)
    if not host or " " in host:
        raise ValueError(f"'{value}' is not HOST or HOST:PORT")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"'{value}': port must be 1-65535")
    return host, int(port_text)


def parse_server_spec(value: str) -> Server:
    """A `Server` from 'HOST[:PORT]'; ValueError when malformed (host names are resolved later)."""
    host, port = parse_server(value)
    return Server(host, port)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def to_addresses(server: Server) -> list[Server]:
    """The server itself when its host is an IP address, else one `Server` per address the name has."""
    if is_ip(server.host):
        return [server]
    try:
        infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_DGRAM)
    except OSError as e:
        raise OperationFailed(f"cannot resolve name server '{server.host}': {e.strerror or e}") from e
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return [Server(addr, server.port, server.name or server.host.rstrip(".") + ".") for addr in addresses]
