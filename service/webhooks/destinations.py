"""Where a webhook may send: public addresses only (no SSRF into the service's own network), unless allowed.

Checked when a webhook is created and again at each delivery attempt after resolving the host, because a
name may resolve elsewhere later (DNS rebinding); the attempt then connects to the address that was checked.
"""

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# checked in this order, so that the reason given is the most specific one (0.0.0.0 is private too)
REFUSED = (
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)


class DestinationError(ValueError):
    """A webhook URL that may not be called; the message names the host and the reason."""


def parse(url: str) -> SplitResult:
    """The URL's parts, or a DestinationError for what the URL type lets through but a webhook may not have."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationError(f"the scheme must be http or https, not '{parts.scheme}'")
    if parts.username is not None or parts.password is not None:
        raise DestinationError("credentials in the URL are not accepted (they would be shown in every listing)")
    if not parts.hostname:
        raise DestinationError("the URL has no host")
    return parts


def port_of(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def refusal(address: IPAddress) -> str | None:
    """Why an address may not be called (loopback, private, ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    for kind, attribute in REFUSED:
        if getattr(address, attribute):
            return kind
    return None if address.is_global else "not globally routable"


def check_addresses(host: str, addresses: list[IPAddress]) -> None:
    """Refuse unless every address is public; the error names the first that is not and why."""
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = host if host == str(address) else f"{host}' resolves to '{address}"
            raise DestinationError(f"'{shown}': a {reason} address (UNLEARN_AUDIT_WEBHOOK_ALLOW_PRIVATE is off)")


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (an address literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DestinationError(f"the host '{host}' does not resolve: {error.strerror}") from error
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]  # no IPv6 zone id


def addresses_to_call(host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """The host's addresses, every one of them checked unless private addresses are allowed."""
    addresses = resolve(host, port)
    if not allow_private:
        check_addresses(host, addresses)
    return addresses


def check_url(url: str, allow_private: bool) -> None:
    """Refuse a URL the service may not call: by its form, and by where its host resolves unless allowed."""
    parts = parse(url)
    if not allow_private:
        addresses_to_call(parts.hostname or "", port_of(parts), allow_private)
