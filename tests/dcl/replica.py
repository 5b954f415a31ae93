"""A replica of the ledger on this machine: HTTPS with a CA the test mints, answering the ledger's
REST paths with the recorded shapes (``recorded/``) and with entries a test publishes for images it
builds, and serving those images, each optionally slow, cut off halfway or missing.

Runs in a thread of its own (a ThreadingHTTPServer), so a provider in this process or another, and
matter.js, reach it as they would the real ledger: set ``SSL_CERT_FILE`` (Python, OpenSSL) or
``NODE_EXTRA_CA_CERTS`` (node) to :attr:`Replica.ca_file`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ota_provider.core.attestation.credentials import VID_OID, DeviceCredentials
from ota_provider.core.ota.image import HeaderFields, create_image
from tests.interop.netns import enter_namespace

RECORDED = Path(__file__).parent / "recorded"
NOT_FOUND = {"code": 5, "message": "not found", "details": []}  # the ledger's error body
PAGE = 2  # vendors per page: the client must follow pagination.next_key


def mint_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for localhost and 127.0.0.1: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ledger replica test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ca_file, cert_file, key_file


def build_image(directory: Path, vid: int, pid: int, version: int, payload_size: int = 4096) -> bytes:
    """An OTA image of ``payload_size`` bytes (the payload varies with the version)."""
    payload = directory / f"payload-{vid}-{pid}-{version}.bin"
    seed = f"{vid}/{pid}/{version}".encode()
    payload.write_bytes((hashlib.sha256(seed).digest() * (payload_size // 32 + 1))[:payload_size])
    output = directory / f"image-{vid}-{pid}-{version}.ota"
    create_image([payload], output, HeaderFields(vid, pid, version, f"v{version}"), "sha256")
    return output.read_bytes()


def checksum(data: bytes, checksum_type: int = 1) -> str:
    digest = {1: hashlib.sha256, 7: hashlib.sha384, 8: hashlib.sha512, 10: hashlib.sha3_256}[checksum_type](data)
    return base64.b64encode(digest.digest()).decode()


@dataclass
class Replica:
    directory: Path
    models: dict[tuple[int, int], dict[int, dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    slow: dict[str, float] = field(default_factory=dict)  # path: seconds between 4 kB chunks
    cut: set[str] = field(default_factory=set)  # paths whose body stops halfway and the connection closes
    vendors: list[dict[str, Any]] = field(default_factory=list)
    listed: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # versions listed, entry or not
    pki: dict[str, Any] = field(default_factory=dict)  # path: answer (the PKI endpoints)
    requests: list[str] = field(default_factory=list)
    down: bool = False  # every request: the connection is closed without an answer
    failing: dict[str, int] = field(default_factory=dict)  # path: the HTTP error status it answers with
    cd_signers: list[x509.Certificate] = field(default_factory=list)  # found by key id (all-certificates)
    namespace: str | None = None  # listen in this network namespace (a provider's, in the interop tests)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file, cert, key = mint_tls(self.directory)
        replica = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                replica.requests.append(self.path)
                if replica.down:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                replica._answer(self)

        self._server = self._listen(Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"  # not localhost: node may try ::1 first
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        if self.namespace is None:
            return ThreadingHTTPServer(("127.0.0.1", 0), handler)
        made: list[ThreadingHTTPServer | BaseException] = []

        def in_namespace() -> None:  # a thread of its own enters the namespace; its socket stays there
            try:
                enter_namespace(self.namespace)  # type: ignore[arg-type]
                made.append(ThreadingHTTPServer(("127.0.0.1", 0), handler))
            except BaseException as exc:
                made.append(exc)

        thread = threading.Thread(target=in_namespace)
        thread.start()
        thread.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ------------------------------------------------------------------ what it holds

    def load_recorded(self, *, invalid_1011: bool = False) -> None:
        """The real answers recorded from the ledger (4442/67, 4447/8194; 1011 as recorded valid, or
        as recorded not valid). Their image URLs are moved onto this replica (where no image is):
        nothing leaves this machine."""
        for vid, pid in ((4442, 67), (4447, 8194)):
            listed = json.loads((RECORDED / f"{vid}-{pid}.json").read_text())
            versions = self.models.setdefault((vid, pid), {})
            self.listed[(vid, pid)] = listed["modelVersions"]["softwareVersions"]
            for version in self.listed[(vid, pid)]:
                name = RECORDED / f"{vid}-{pid}-{version}.json"
                if not name.exists():
                    name = RECORDED / f"{vid}-{pid}-{version}-{'invalid' if invalid_1011 else 'valid'}.json"
                if name.exists():  # a listed version without its entry answers 404, as the ledger may
                    entry = json.loads(name.read_text())["modelVersion"]
                    if entry["otaUrl"]:
                        entry["otaUrl"] = self.url + urllib.parse.urlsplit(entry["otaUrl"]).path
                    versions[version] = entry

    def publish(
        self,
        image: bytes,
        vid: int,
        pid: int,
        version: int,
        *,
        valid: bool = True,
        url: str | None = None,
        size: int | None = None,
        checksum_text: str | None = None,
        checksum_type: int = 1,
        low: int = 0,
        high: int | None = None,
        serve: bool = True,
    ) -> str:
        """An entry for ``image`` (its URL on this replica unless ``url``), as the ledger shows it."""
        path = f"/images/{vid}-{pid}-{version}.ota"
        if serve:
            self.files[path] = image
        entry = {
            "vid": vid,
            "pid": pid,
            "softwareVersion": version,
            "softwareVersionString": f"v{version}",
            "cdVersionNumber": 1,
            "firmwareInformation": "",
            "softwareVersionValid": valid,
            "otaUrl": self.url + path if url is None else url,
            "otaFileSize": str(len(image) if size is None else size),
            "otaChecksum": checksum(image, checksum_type) if checksum_text is None else checksum_text,
            "otaChecksumType": checksum_type,
            "minApplicableSoftwareVersion": low,
            "maxApplicableSoftwareVersion": version - 1 if high is None else high,
            "releaseNotesUrl": "",
            "creator": "cosmos1replica",
            "schemaVersion": 0,
        }
        self.models.setdefault((vid, pid), {})[version] = entry
        return path

    # ------------------------------------------------------------------ answering

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if path in self.failing:
            self._json(handler, self.failing[path], {"code": 13, "message": "internal", "details": []})
        elif path in self.files:
            self._send_file(handler, path)
        elif path.startswith("/dcl/model/versions/"):
            status, body = self._model_versions(path.strip("/").split("/")[3:])
            self._json(handler, status, body)
        elif path == "/dcl/vendorinfo/vendors":
            start = int(query.get("pagination.key", ["0"])[0] or 0)
            page = self.vendors[start : start + PAGE]
            next_key = str(start + PAGE) if start + PAGE < len(self.vendors) else None
            pagination = {"next_key": next_key, "total": str(len(self.vendors))}
            self._json(handler, 200, {"vendorInfo": page, "pagination": pagination})
        elif path == "/dcl/pki/all-certificates":
            wanted = query.get("subjectKeyId", [""])[0]
            found = [c for c in self.cd_signers if _colon_hex(_key_id(c)) == wanted]
            groups = [{"certs": [{"pemCert": c.public_bytes(serialization.Encoding.PEM).decode()} for c in found]}]
            self._json(handler, 200, {"certificates": groups if found else []})
        elif path in self.pki:
            self._json(handler, 200, self.pki[path])
        else:
            self._json(handler, 404, NOT_FOUND)

    def _model_versions(self, parts: list[str]) -> tuple[int, Any]:
        if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
            return 400, {"code": 3, "message": "bad request", "details": []}
        vid, pid = int(parts[0]), int(parts[1])
        versions = self.models.get((vid, pid))
        if not versions:
            return 404, NOT_FOUND
        if len(parts) == 2:
            listed = self.listed.get((vid, pid), sorted(versions))
            return 200, {"modelVersions": {"vid": vid, "pid": pid, "softwareVersions": listed, "schemaVersion": 0}}
        entry = versions.get(int(parts[2]))
        return (200, {"modelVersion": entry}) if entry is not None else (404, NOT_FOUND)

    @staticmethod
    def _json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _send_file(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        data = self.files[path]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if path in self.cut:
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        pause = self.slow.get(path)
        for start in range(0, len(data), 4096 if pause else len(data) or 1):
            handler.wfile.write(data[start : start + (4096 if pause else len(data))])
            if pause:
                handler.wfile.flush()
                time.sleep(pause)


# ---------------------------------------------------------------------- attestation roots


def mint_paa(common_name: str, vendor_id: int | None = 0xFFF1) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed PAA as a vendor would have one approved on the ledger."""
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if vendor_id is not None:
        attributes.append(x509.NameAttribute(VID_OID, f"{vendor_id:04X}"))
    name = x509.Name(attributes)
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def device_files(
    directory: Path,
    paa: x509.Certificate,
    paa_key: ec.EllipticCurvePrivateKey,
    vid: int = 0xFFF1,
    pid: int = 0x8000,
    cd_signer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
) -> list[str]:
    """A PAI and DAC chained to ``paa`` and a CD signed with the public test CD key (or with
    ``cd_signer``, as a production CD of a certified product), as the files of ``ota-provider --dac
    --pai --dac-key --cd`` (a device whose attestation chains to that PAA)."""
    credentials = DeviceCredentials.generate_under(
        paa, paa_key, vid, pid, cd_signer=cd_signer, certification_type=0 if cd_signer is None else 2
    )
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "--dac": ("dac.der", credentials.dac),
        "--pai": ("pai.der", credentials.pai),
        "--dac-key": ("dac-key.der", credentials.to_storage()["dac_key"]),
        "--cd": ("cd.der", credentials.certification_declaration),
    }
    flags: list[str] = []
    for flag, (name, data) in files.items():
        (directory / name).write_bytes(data)
        flags += [flag, str(directory / name)]
    return flags


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{byte:02X}" for byte in data)


def approve_root(replica: Replica, certificate: x509.Certificate) -> None:
    """``certificate`` listed among the ledger's approved roots, with its own entry, as the ledger
    spells them: the subject in base64 of its DER, the key id in colon-separated hex."""
    subject = base64.b64encode(certificate.subject.public_bytes()).decode()
    key_id = _colon_hex(certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest)
    listed = replica.pki.setdefault(
        "/dcl/pki/root-certificates",
        {"approvedRootCertificates": {"schemaVersion": 0, "certs": []}},
    )
    listed["approvedRootCertificates"]["certs"].append({"subject": subject, "subjectKeyId": key_id})
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    replica.pki[f"/dcl/pki/certificates/{subject}/{key_id}"] = {
        "approvedCertificates": {
            "subject": subject,
            "subjectKeyId": key_id,
            "certs": [
                {
                    "pemCert": pem,
                    "serialNumber": str(certificate.serial_number),
                    "issuer": subject,
                    "authorityKeyId": key_id,
                    "rootSubject": subject,
                    "rootSubjectKeyId": key_id,
                    "isRoot": True,
                    "owner": "cosmos1replica",
                    "subjectAsText": certificate.subject.rfc4514_string(),
                    "vid": 0xFFF1,
                    "schemaVersion": 0,
                }
            ],
            "schemaVersion": 0,
        }
    }


def publish_crl(
    replica: Replica, issuer: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey, serials: list[int]
) -> None:
    """A CRL signed by ``issuer`` revoking ``serials``, served by the replica, and the ledger's
    revocation point for it (a PAA's: it lists PAIs), with its digest."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(now - datetime.timedelta(hours=1))
        .next_update(now + datetime.timedelta(days=1))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    crl = builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    key_id = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex().upper()
    path = f"/crl/{key_id}.crl"
    replica.files[path] = crl
    point = {
        "vid": 0xFFF1,
        "pid": 0,
        "isPAA": True,
        "label": "replica CRL",
        "crlSignerCertificate": issuer.public_bytes(serialization.Encoding.PEM).decode(),
        "crlSignerDelegator": "",
        "issuerSubjectKeyID": key_id,
        "dataURL": replica.url + path,
        "dataFileSize": str(len(crl)),
        "dataDigest": checksum(crl),
        "dataDigestType": 1,
        "revocationType": 1,
        "schemaVersion": 0,
    }
    replica.pki[f"/dcl/pki/revocation-points/{key_id}"] = {
        "pkiRevocationDistributionPointsByIssuerSubjectKeyID": {"issuerSubjectKeyID": key_id, "points": [point]}
    }


def _key_id(certificate: x509.Certificate) -> bytes:
    return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def mint_cd_signer(common_name: str = "Replica CD Signer") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A Certification Declaration signing certificate, as the CSA's production ones on the ledger."""
    return mint_paa(common_name, vendor_id=None)
