"""The guard end to end: redirects and names pointing inside, proven by listeners that
must receive nothing, and a connector that connects to the address it checked.

The test servers live on loopback, so the suites allow 127.0.0.1 only. Other loopback
addresses (127.0.0.2, ::1) are NOT allowed: listeners there stand for the internal
services a feed must never reach. Targets outside loopback (metadata, RFC 1918) are tested
with a recording inner backend, so no packet can leave even if the guard were broken.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from tests.support.hostile import (
    ConnectionRecorder,
    FakeDNS,
    HostileServer,
    redirect,
    respond,
)
from watcher.config import NetworkConfig
from watcher.errors import BlockedAddressError, FetchError
from watcher.fetch import Fetcher, GuardedTransport, build_client
from watcher.netguard import AllowList, GuardedBackend

NETWORK = NetworkConfig(allow=("127.0.0.1",), connect_timeout=1.0, read_timeout=1.0,
                        total_timeout=3.0)


@pytest.fixture(scope="module")
def main_server() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


@pytest.fixture(scope="module")
def inside_v4() -> Iterator[ConnectionRecorder]:
    with ConnectionRecorder("127.0.0.2") as recorder:
        yield recorder


@pytest.fixture(scope="module")
def inside_v6() -> Iterator[ConnectionRecorder]:
    with ConnectionRecorder("::1") as recorder:
        yield recorder


async def _fetcher(network: NetworkConfig, dns: FakeDNS) -> AsyncIterator[Fetcher]:
    async with build_client(network, resolver=dns) as client:
        yield Fetcher(client, network)


def _v4_spellings(port: int) -> list[str]:
    return [f"http://{host}:{port}/admin" for host in (
        "127.0.0.2", "2130706434", "0x7f000002", "0x7f.0.0.2", "0x7f.2", "017700000002",
        "127.2", "127.0.2", "127.0.0.2.", "[::ffff:127.0.0.2]", "[::ffff:7f00:2]",
        "[0:0:0:0:0:ffff:127.0.0.2]", "internal.test", "mixed.test", "INTERNAL.test.",
    )]


def _dns() -> FakeDNS:
    return FakeDNS({
        "internal.test": [["127.0.0.2"]],
        "mixed.test": [["127.0.0.1", "127.0.0.2"]],  # one bad answer spoils the name
        "loopback6.test": [["::1"]],
    })


@pytest.mark.parametrize("index", range(len(_v4_spellings(1))))
async def test_redirect_to_internal_ipv4_never_reaches_it(
        main_server: HostileServer, inside_v4: ConnectionRecorder, index: int) -> None:
    target = _v4_spellings(inside_v4.port)[index]
    main_server.route("/go", redirect(302, target))
    async for fetcher in _fetcher(NETWORK, _dns()):
        with pytest.raises(BlockedAddressError, match="refused to connect") as caught:
            await fetcher.get(main_server.url("/go"), max_bytes=1000)
    assert "loopback" in str(caught.value)
    assert inside_v4.connections == 0


@pytest.mark.parametrize("host", ["[::1]", "[0:0:0:0:0:0:0:1]", "[::0001]", "loopback6.test"])
async def test_redirect_to_ipv6_loopback_never_reaches_it(
        main_server: HostileServer, inside_v6: ConnectionRecorder, host: str) -> None:
    main_server.route("/go6", redirect(301, f"http://{host}:{inside_v6.port}/"))
    async for fetcher in _fetcher(NETWORK, _dns()):
        with pytest.raises(BlockedAddressError, match="loopback"):
            await fetcher.get(main_server.url("/go6"), max_bytes=1000)
    assert inside_v6.connections == 0


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "[::]", "0x0"])
async def test_unspecified_address_is_refused_even_though_it_reaches_an_allowed_one(
        host: str) -> None:
    # Linux routes a connect to 0.0.0.0 to the local host, i.e. to allowed 127.0.0.1.
    with ConnectionRecorder("127.0.0.1") as local:
        async for fetcher in _fetcher(NETWORK, _dns()):
            with pytest.raises(BlockedAddressError, match="unspecified"):
                await fetcher.get(f"http://{host}:{local.port}/", max_bytes=1000)
        assert local.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f.1", "017700000001",
                                  "[::ffff:127.0.0.1]", "localhost"])
async def test_without_allow_list_loopback_is_refused_in_every_spelling(host: str) -> None:
    with ConnectionRecorder("127.0.0.1") as local:
        async for fetcher in _fetcher(NetworkConfig(), _dns()):
            with pytest.raises(BlockedAddressError, match="loopback"):
                await fetcher.get(f"http://{host}:{local.port}/", max_bytes=1000)
        assert local.connections == 0


async def test_connects_to_the_checked_address_not_a_second_lookup(
        main_server: HostileServer) -> None:
    # rebind.test answers 127.0.0.1 (allowed) once, then 127.0.0.2 (not). The connection
    # must use the first, checked answer; a second client sees the new answer and refuses.
    main_server.route("/feed", respond(200, b"<rss/>"))
    dns = FakeDNS({"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    url = f"http://rebind.test:{main_server.port}/feed"
    with ConnectionRecorder("127.0.0.2", main_server.port) as inside:
        async for fetcher in _fetcher(NETWORK, dns):
            result = await fetcher.get(url, max_bytes=1000)
            assert result.content == b"<rss/>"
            assert main_server.requests[-1].headers["host"] == f"rebind.test:{main_server.port}"
            assert dns.lookups["rebind.test"] == 1
        async for fetcher in _fetcher(NETWORK, dns):
            with pytest.raises(BlockedAddressError, match=r"rebind.test -> 127.0.0.2"):
                await fetcher.get(url, max_bytes=1000)
        assert inside.connections == 0


async def test_an_allowed_host_name_reaches_its_internal_address() -> None:
    network = NetworkConfig(allow=("feeds.internal",), total_timeout=3.0)
    dns = FakeDNS({"feeds.internal": [["127.0.0.3"]]})
    with HostileServer({"/feed": respond(200, b"<rss/>"),
                        "/out": redirect(302, "/feed")}, host="127.0.0.3") as server:
        async for fetcher in _fetcher(network, dns):
            ok = await fetcher.get(f"http://feeds.internal:{server.port}/out", max_bytes=100)
            assert ok.content == b"<rss/>" and len(ok.redirects) == 1
            # The name is allowed, not its address: spelled as an address it is refused.
            with pytest.raises(BlockedAddressError):
                await fetcher.get(server.url("/feed"), max_bytes=100)
        assert server.hits("/feed") == 1


async def test_an_allowed_range_reaches_its_addresses() -> None:
    network = NetworkConfig(allow=("127.0.0.0/29",), total_timeout=3.0)
    with HostileServer({"/feed": respond(200, b"ok")}, host="127.0.0.5") as server:
        async for fetcher in _fetcher(network, FakeDNS()):
            assert (await fetcher.get(server.url("/feed"), max_bytes=10)).content == b"ok"


async def test_unknown_host_is_a_clear_error() -> None:
    async for fetcher in _fetcher(NETWORK, FakeDNS()):
        with pytest.raises(FetchError, match=r"could not resolve host 'nowhere\.test'"):
            await fetcher.get("http://nowhere.test/feed", max_bytes=10)


# --- targets outside loopback: a recording backend stands in for the network ------------

class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records connection attempts and makes none."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: object = None) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("recording backend: no real connections")


OUTSIDE = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
    ("http://metadata.test/computeMetadata/v1/", "cloud metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4:8080/", "private"),
    ("http://192.168.1.1/admin", "private"),
    ("http://router.test/", "private"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://169.254.0.5/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fc00::1]/", "unique local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[2002:a9fe:a9fe::]/", "cloud metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),
    ("http://[::ffff:a9fe:a9fe]/", "cloud metadata"),
    ("http://2852039166/", "cloud metadata"),  # 169.254.169.254 as one number
    ("http://0xa9.0xfe.0xa9.0xfe/", "cloud metadata"),
    ("http://0251.0376.0251.0376/", "cloud metadata"),
]


@pytest.mark.parametrize("url, reason", OUTSIDE)
async def test_internal_targets_are_refused_before_any_connection(url: str,
                                                                  reason: str) -> None:
    recorder = RecordingBackend()
    dns = FakeDNS({"metadata.test": [["169.254.169.254"]], "router.test": [["192.168.0.1"]]})
    transport = GuardedTransport(NetworkConfig(), resolver=dns, inner_backend=recorder)
    async with httpx.AsyncClient(transport=transport) as client:
        fetcher = Fetcher(client, NetworkConfig())
        with pytest.raises((BlockedAddressError, FetchError)) as caught:
            await fetcher.get(url, max_bytes=10)
        # "0251.0376..." is not a URL httpx accepts: refused too, just not by us.
        if "0251" not in url:
            assert isinstance(caught.value, BlockedAddressError)
            assert reason in str(caught.value)
        # And the raw client (no Fetcher, so no literal pre-check) is refused at connect.
        if "0251" not in url:
            with pytest.raises(BlockedAddressError, match=reason):
                await client.get(url)
    assert recorder.attempts == []


async def test_guarded_backend_connects_to_the_ip_it_checked() -> None:
    recorder = RecordingBackend()
    dns = FakeDNS({"feed.test": [["127.0.0.1", "127.0.0.1"]]})
    backend = GuardedBackend(AllowList.parse(["127.0.0.1"]), resolver=dns, backend=recorder)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("feed.test", 8080, timeout=1)
    assert recorder.attempts == [("127.0.0.1", 8080)]  # the IP, once (duplicates merged)


async def test_guarded_backend_refuses_unix_sockets() -> None:
    with pytest.raises(BlockedAddressError):
        await GuardedBackend().connect_unix_socket("/var/run/docker.sock")


# --- TLS: connect to the checked IP, verify the certificate against the host name -------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=feeds.test",
         "-addext", "subjectAltName=DNS:feeds.test"],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[HostileServer, list[str]]]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    names: list[str] = []

    def remember_sni(_sock: object, name: str | None, _ctx: object) -> None:
        names.append(name or "")

    context.sni_callback = remember_sni  # type: ignore[assignment]
    with HostileServer({"/feed": respond(200, b"<rss/>")}, ssl_context=context) as server:
        yield server, names


def trusting_client(certificate: tuple[Path, Path]) -> httpx.AsyncClient:
    """A client that trusts the test certificate and resolves feeds.test to 127.0.0.1."""
    trust = ssl.create_default_context(cafile=str(certificate[0]))
    return build_client(NETWORK, resolver=FakeDNS({"feeds.test": [["127.0.0.1"]]}),
                        ssl_context=trust)


async def test_tls_uses_the_host_name_for_sni_and_certificate(
        tls_server: tuple[HostileServer, list[str]], certificate: tuple[Path, Path]) -> None:
    server, names = tls_server
    async with trusting_client(certificate) as client:
        result = await Fetcher(client, NETWORK).get(
            server.url("/feed", host="feeds.test"), max_bytes=100)
        assert result.content == b"<rss/>"
        assert names == ["feeds.test"]
        # The same server by its address: the certificate does not name it.
        with pytest.raises(FetchError, match=r"^TLS error: .*(mismatch|match)"):
            await Fetcher(client, NETWORK).get(server.url("/feed"), max_bytes=100)


async def test_untrusted_certificate_is_a_tls_error(
        tls_server: tuple[HostileServer, list[str]]) -> None:
    server, _ = tls_server
    dns = FakeDNS({"feeds.test": [["127.0.0.1"]]})
    async with build_client(NETWORK, resolver=dns) as client:
        with pytest.raises(FetchError, match=r"^TLS error: .*self.signed"):
            await Fetcher(client, NETWORK).get(server.url("/feed", host="feeds.test"),
                                               max_bytes=100)


async def test_a_tls_connection_is_kept_alive_and_reused(
        tls_server: tuple[HostileServer, list[str]], certificate: tuple[Path, Path]) -> None:
    # Before each request the pool asks the idle TLS connection whether the server closed
    # it (fetch/streams.py answers from the socket under the TLS layer): a live one is
    # reused, not handshaken again.
    server, names = tls_server
    async with trusting_client(certificate) as client:
        fetcher = Fetcher(client, NETWORK)
        for _ in range(3):
            result = await fetcher.get(server.url("/feed", host="feeds.test"), max_bytes=100)
            assert result.content == b"<rss/>"
    assert server.connections == 1
    assert names == ["feeds.test"]
