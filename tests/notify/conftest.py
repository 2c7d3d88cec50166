from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from watcher.config import NetworkConfig
from watcher.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles") as s:
        yield s


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    from watcher.fetch import build_client

    async with build_client(NetworkConfig(allow=("127.0.0.1",))) as c:
        yield c


@dataclass(frozen=True)
class TestPKI:
    """A throwaway CA and server certificates for TLS peers on 127.0.0.1. ``cert``/``key``
    name 127.0.0.1 and localhost and are signed by ``ca``; ``wrong_name_cert`` is signed by
    the same CA for another host; ``stranger_*`` is a self-signed pair nobody trusts."""

    __test__ = False  # a fixture value, not a test class

    ca: Path
    cert: Path
    key: Path
    wrong_name_cert: Path
    wrong_name_key: Path
    stranger_cert: Path
    stranger_key: Path

    def server_context(self, cert: Path | None = None, key: Path | None = None
                       ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert or self.cert, key or self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a user with a private CA gets: the default checks, trusting only ``ca``."""
        return ssl.create_default_context(cafile=str(self.ca))


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
          names: Sequence[x509.GeneralName] = ()) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(hours=1))
               .not_valid_after(now + timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, stem: str, cert: x509.Certificate,
           key: ec.EllipticCurvePrivateKey | None = None) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    folder = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "watcher test CA")])
    ca = _cert("watcher test CA", ca_key, ca_name, ca_key, ca=True)
    local = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    server_key, other_key, stranger_key = _key(), _key(), _key()
    server = _cert("127.0.0.1", server_key, ca_name, ca_key, ca=False, names=local)
    other = _cert("mail.example.org", other_key, ca_name, ca_key, ca=False,
                  names=[x509.DNSName("mail.example.org")])
    stranger_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    stranger = _cert("127.0.0.1", stranger_key, stranger_name, stranger_key, ca=True,
                     names=local)
    ca_path, _ = _write(folder, "ca", ca)
    cert, key = _write(folder, "server", server, server_key)
    wrong_cert, wrong_key = _write(folder, "wrong-name", other, other_key)
    stranger_cert, stranger_key_path = _write(folder, "stranger", stranger, stranger_key)
    return TestPKI(ca=ca_path, cert=cert, key=key, wrong_name_cert=wrong_cert,
                   wrong_name_key=wrong_key, stranger_cert=stranger_cert,
                   stranger_key=stranger_key_path)
