"""The cluster's certificates and keys, made with the `openssl` CLI (no Python dependency).

A CA; the apiserver's serving certificate (CN=localhost, SANs localhost, 127.0.0.1, the host's
address on the node network and the in-cluster names); an admin client certificate in group
`system:masters` (the kubeconfig, the controller-manager, the scheduler); the kubelet's client
certificate (`system:node:<node>` in `system:nodes`, judged by the Node authorizer); the
apiserver's client certificate for the kubelet API (`kubectl logs`); an RSA key pair that signs
and verifies service-account tokens. Generated once per state directory and reused: a cached cluster starts
without key generation. EC P-256 keys for TLS (fast to generate), RSA 2048 for service accounts.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from localcluster.state import HOST_IP, NODE_NAME

VALID_DAYS = "3650"
SERVING_SANS = (
    "DNS:localhost",
    "IP:127.0.0.1",
    f"IP:{HOST_IP}",
    "IP:10.0.0.1",
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.cluster.local",
)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files in `<state>/pki`."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.root / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.root / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.root / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.root / "admin.key"

    @property
    def sa_key(self) -> Path:
        return self.root / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "sa.pub"

    @property
    def node_cert(self) -> Path:
        return self.root / "node.crt"

    @property
    def node_key(self) -> Path:
        return self.root / "node.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The apiserver's client certificate towards the kubelet API."""
        return self.root / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.root / "apiserver-kubelet-client.key"

    @property
    def marker(self) -> Path:
        """Names the SANs this PKI was made for: a PKI of an older layout is made anew."""
        return self.root / "layout"

    def complete(self) -> bool:
        files = [self.ca_cert, self.ca_key, self.serving_cert, self.serving_key]
        files += [self.admin_cert, self.admin_key, self.sa_key, self.sa_pub]
        files += [self.node_cert, self.node_key, self.kubelet_client_cert, self.kubelet_client_key]
        if not all(f.is_file() and f.stat().st_size > 0 for f in files):
            return False
        return self.marker.is_file() and self.marker.read_text() == _LAYOUT


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.strip()}")


_LAYOUT = f"{','.join(SERVING_SANS)} {NODE_NAME}\n"
_CLIENT = [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=clientAuth",
]


def _ec_key(path: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)
    )


def _signed_cert(pki: Pki, key: Path, cert: Path, subject: str, extensions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        csr = Path(tmp) / "req.csr"
        ext = Path(tmp) / "ext.cnf"
        ext.write_text("\n".join(extensions) + "\n")
        _openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(pki.ca_cert), "-CAkey", str(pki.ca_key),
            "-set_serial", "0x" + _random_hex(), "-days", VALID_DAYS, "-sha256",
            "-extfile", str(ext), "-out", str(cert),
        )  # fmt: skip


def _random_hex() -> str:
    import secrets

    return secrets.token_hex(16)


def ensure_pki(root: Path) -> Pki:
    """Create the PKI under `root` unless a complete one is already there."""
    pki = Pki(root)
    if pki.complete():
        return pki
    root.mkdir(parents=True, exist_ok=True)
    _ec_key(pki.ca_key)
    _openssl(
        "req", "-x509", "-new", "-key", str(pki.ca_key), "-subj", "/CN=localcluster-ca",
        "-days", VALID_DAYS, "-sha256", "-out", str(pki.ca_cert),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )  # fmt: skip
    _ec_key(pki.serving_key)
    _signed_cert(
        pki,
        pki.serving_key,
        pki.serving_cert,
        "/CN=localhost",
        [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth",
            "subjectAltName=" + ",".join(SERVING_SANS),
        ],
    )
    clients = (
        (pki.admin_key, pki.admin_cert, "/O=system:masters/CN=localcluster-admin"),
        (pki.node_key, pki.node_cert, f"/O=system:nodes/CN=system:node:{NODE_NAME}"),
        (
            pki.kubelet_client_key,
            pki.kubelet_client_cert,
            "/O=kube-apiserver-kubelet-client/CN=kube-apiserver-kubelet-client",
        ),
    )
    for key, cert, subject in clients:
        _ec_key(key)
        _signed_cert(pki, key, cert, subject, _CLIENT)
    _openssl(
        "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
        "-out", str(pki.sa_key),
    )  # fmt: skip
    _openssl("pkey", "-in", str(pki.sa_key), "-pubout", "-out", str(pki.sa_pub))
    for key in (pki.ca_key, pki.serving_key, pki.sa_key, *(k for k, _, _ in clients)):
        key.chmod(0o600)
    pki.marker.write_text(_LAYOUT)
    return pki
