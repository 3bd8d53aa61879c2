"""The organisation's secrets: RSA key + certificate for SecurityCredential, the OpenAPI key pair and
API key, PINs, passwords."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def generate_key_and_certificate(common_name: str = "mpesa-sim") -> tuple[str, str]:
    """An RSA 2048 key and a 10-year self-signed certificate, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "KE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "M-Pesa Simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


# Vodacom's OpenAPI key is 4096-bit (vodacom-openapi.md 2); the simulator's is smaller for speed:
# a client must not depend on the size.
OPENAPI_KEY_BITS = 2048


def generate_openapi_key(bits: int = OPENAPI_KEY_BITS) -> tuple[str, str]:
    """The OpenAPI key pair: (private key PEM, public key as base64 DER SubjectPublicKeyInfo, the way
    Vodacom's portal shows it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, public_key_base64(key_pem)


def public_key_base64(key_pem: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def openapi_bearer(public_key_b64: str, secret: str) -> str:
    """What an OpenAPI client sends after ``Bearer``: base64(RSA PKCS#1 v1.5(public key, secret)),
    the secret being the API key (getSession) or the SessionID (every other call)."""
    public_key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    return base64.b64encode(public_key.encrypt(secret.encode(), padding.PKCS1v15())).decode()


def new_openapi_api_key() -> str:
    """An application's API key: 32 alphanumeric characters, like the portal's."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(32))


def certificate_der(cert_pem: str) -> bytes:
    return x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(serialization.Encoding.DER)


def encrypt_credential(cert_pem: str | bytes, password: str) -> str:
    """What a client does: base64(RSA PKCS#1 v1.5 encrypt(password)). Used by tests and demos."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    public_key = x509.load_pem_x509_certificate(data).public_key()
    return base64.b64encode(public_key.encrypt(password.encode(), padding.PKCS1v15())).decode()


class CredentialDecryptor:
    """Decrypts SecurityCredentials, remembering each distinct one.

    A client encrypts its password once and reuses the ciphertext for every request, and an RSA
    decryption costs about a millisecond: the cache keeps the sim at hundreds of requests/s.
    """

    def __init__(self, key_pem: str, cache_size: int = 1024):
        self._key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        self._cache: dict[str, str | None] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def decrypt(self, credential: str) -> str | None:
        """The password, or None when the credential was not made with our certificate."""
        with self._lock:
            if credential in self._cache:
                return self._cache[credential]
        try:
            raw = base64.b64decode(credential, validate=True)
            # PKCS1v15 decryption failures raise ValueError; a wrong-length ciphertext too.
            plain = self._key.decrypt(raw, padding.PKCS1v15()).decode()
        except (ValueError, UnicodeDecodeError, TypeError):
            plain = None
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[credential] = plain
        return plain


# PINs and passwords: salted PBKDF2. The iteration count is low on purpose: a simulator seeds
# thousands of wallets and has no real secrets to protect from offline guessing.
_ITERATIONS = 10_000


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, _ITERATIONS)
    return "pbkdf2_sha256$%d$%s$%s" % (_ITERATIONS, salt.hex(), digest.hex())


def verify_secret(secret: str, stored: str) -> bool:
    try:
        _, iterations, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt_hex), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def new_access_token() -> str:
    # Daraja's tokens are 28 alphanumeric characters.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(28))


def sign_token(secret: str, payload: dict) -> str:
    """A compact HS256 JWT (for the simple-mpesa routes), standard library only."""
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def verify_token(secret: str, token: str) -> dict | None:
    import json

    try:
        header, body, signature = token.split(".")
        expected = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
