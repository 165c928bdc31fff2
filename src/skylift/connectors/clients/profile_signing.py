"""Sign an Apple configuration profile (CMS/PKCS #7 SignedData, DER), as iOS expects.

iOS shows a signed profile as "Verified" when the signer's chain is trusted, and a profile
served unsigned over plain HTTPS can be altered by anything in between (automx2 serves them
unsigned). The output is what ``openssl smime -sign -nodetach -outform der`` writes: the
plist embedded in the signature, with the signer's certificate (and any chain given).
"""

from __future__ import annotations

from pathlib import Path

from skylift.errors import ConfigError


class ProfileSigner:
    """Load the certificate and key once; sign each profile on request."""

    def __init__(self, cert: Path, key: Path, chain: Path | None = None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            self.cert = x509.load_pem_x509_certificate(cert.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--sign-cert {cert}: not a PEM certificate ({exc})") from None
        try:
            self.key = serialization.load_pem_private_key(key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"--sign-key {key}: not an unencrypted PEM key ({type(exc).__name__})"
            ) from None
        self.chain = []
        if chain is not None:
            try:
                self.chain = x509.load_pem_x509_certificates(chain.read_bytes())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"--sign-chain {chain}: not PEM certificates ({exc})") from None

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.serialization import Encoding
        from cryptography.hazmat.primitives.serialization.pkcs7 import (
            PKCS7Options,
            PKCS7SignatureBuilder,
        )

        builder = (
            PKCS7SignatureBuilder()
            .set_data(data)
            .add_signer(
                self.cert,
                self.key,  # type: ignore[arg-type]
                hashes.SHA256(),
            )
        )
        for extra in self.chain:
            builder = builder.add_certificate(extra)
        return builder.sign(Encoding.DER, [PKCS7Options.Binary])
