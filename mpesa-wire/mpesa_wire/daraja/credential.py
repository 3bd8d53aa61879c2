"""The SecurityCredential: the initiator password encrypted for M-Pesa."""

import base64

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import DarajaAuthError


def load_certificate(data: bytes) -> x509.Certificate:
    """Load an X.509 certificate given as PEM or DER (Safaricom publishes both)."""
    if isinstance(data, str):
        data = data.encode("ascii")
    # default_backend() is passed because cryptography < 3.1 requires it; newer versions ignore it.
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data, default_backend())
        return x509.load_der_x509_certificate(data, default_backend())
    except ValueError as exc:
        raise DarajaAuthError(f"The M-Pesa certificate cannot be read: {exc}") from None


def security_credential(password: str, certificate: bytes) -> str:
    """base64(RSA-PKCS#1 v1.5(password)) with the certificate's public key.

    The padding is random, so every call returns a different string; each one is valid.
    """
    public_key = load_certificate(certificate).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise DarajaAuthError("The M-Pesa certificate does not hold an RSA public key")
    encrypted = public_key.encrypt(password.encode("utf-8"), padding.PKCS1v15())
    return base64.b64encode(encrypted).decode("ascii")
