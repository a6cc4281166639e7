"""Signed, expiring download links.

A link is ``/dl/<export_id>/<file_name>?expires=<unix seconds>&sig=<hex>``.
The signature is HMAC-SHA256 over a purpose label, the export id, the file name
and the expiry, so it cannot be moved to another file, another export or
another lifetime. Only unreserved characters appear in the link, so clients that
percent-decode it before use get the same link back.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from snyk_export.errors import ConfigurationError, Forbidden

DOWNLOAD_PURPOSE = b"snyk-export/download/v1"
_HEX = re.compile(r"[0-9a-f]{64}")
# Canonical decimal only: str.isdigit() admits digits int() cannot read ("²").
_EXPIRES = re.compile(r"0|[1-9][0-9]{0,11}")
_KEY_BYTES = 32


@dataclass(frozen=True)
class SigningKeys:
    """The current signing key and older keys still accepted for verification."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        return f"SigningKeys(<{1 + len(self.previous)} keys hidden>)"

    @classmethod
    def from_text(cls, text: str) -> SigningKeys:
        """Keys from a comma- or newline-separated list of hex strings, newest first."""
        keys = [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
        if not keys:
            raise ConfigurationError("no signing key given")
        try:
            decoded = [bytes.fromhex(key) for key in keys]
        except ValueError:
            raise ConfigurationError("signing keys must be hex strings") from None
        if any(len(key) < 16 for key in decoded):
            raise ConfigurationError("signing keys must be at least 16 bytes")
        return cls(decoded[0], tuple(decoded[1:]))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKeys:
        """Keys kept in ``path``, creating a fresh random key on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(_KEY_BYTES) + "\n", encoding="ascii")
        return cls.from_text(path.read_text(encoding="ascii"))


def _digest(key: bytes, export_id: str, file_name: str, expires: int) -> str:
    message = b"\n".join(
        [
            DOWNLOAD_PURPOSE,
            export_id.encode(),
            file_name.encode(),
            str(expires).encode(),
        ]
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_download(
    keys: SigningKeys, export_id: str, file_name: str, expires: int
) -> str:
    """The signature of a download link."""
    return _digest(keys.current, export_id, file_name, expires)


def download_path(
    keys: SigningKeys, export_id: str, file_name: str, expires: int
) -> str:
    """The path and query of a signed download link."""
    signature = sign_download(keys, export_id, file_name, expires)
    return f"/dl/{export_id}/{file_name}?expires={expires}&sig={signature}"


def verify_download(
    keys: SigningKeys,
    export_id: str,
    file_name: str,
    expires_text: str | None,
    signature: str | None,
    now: int,
) -> None:
    """Check a download link; raise 403 if it is malformed, forged or expired."""
    if not expires_text or not _EXPIRES.fullmatch(expires_text):
        raise Forbidden("invalid download link")
    if not signature or not _HEX.fullmatch(signature):
        raise Forbidden("invalid download link")
    expires = int(expires_text)
    valid = any(
        hmac.compare_digest(_digest(key, export_id, file_name, expires), signature)
        for key in (keys.current, *keys.previous)
    )
    if not valid:
        raise Forbidden("invalid download link")
    if now > expires:
        raise Forbidden("link expired")
