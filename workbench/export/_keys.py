"""The organisation's keys: an Ed25519 key that signs tip-sheet bundles, and a secret that
pseudonymises personal identifiers for partner bundles.

The keys live in a per-user folder (``WORKBENCH_KEYS_DIR`` overrides it), readable by the
owner only; no bundle ever carries a secret, only the public key. ``workbench keys init``
(or :func:`init_keys`) creates them once per organisation; copy the folder to every
workstation that exports for the same organisation so that partners see the same token
for the same identifier in every bundle.

>>> folder = init_keys("keys-demo")            # doctest: +SKIP
>>> load_keys(folder).fingerprint               # doctest: +SKIP
'SHA256:3f9a1c2b...'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from workbench.errors import InputError, NotFoundError

__all__ = [
    "KEYS_ENV",
    "OrganisationKeys",
    "fingerprint",
    "init_keys",
    "keys_dir",
    "load_keys",
    "load_public_key",
    "pseudonym",
    "verify_signature",
]

KEYS_ENV = "WORKBENCH_KEYS_DIR"
SIGNING_KEY = "signing-key.pem"
PUBLIC_KEY = "signing-key.pub.pem"
PSEUDONYM_KEY = "pseudonym.key"
_APP = "counterfeit-workbench"
_TOKEN_BYTES = 12  # 96 bits: no collision in any realistic case, short enough to read aloud


def keys_dir() -> Path:
    """Where the keys live: ``$WORKBENCH_KEYS_DIR``, else the user's config folder."""
    explicit = os.environ.get(KEYS_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / _APP / "keys"


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """``SHA256:`` and the hex digest of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo), as OpenSSL reads it."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class OrganisationKeys:
    """The loaded keys of one organisation (never written into a bundle but for the public key)."""

    directory: Path
    signing_key: Ed25519PrivateKey
    pseudonym_key: bytes

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """Detached Ed25519 signature (64 bytes) of ``data``."""
        return self.signing_key.sign(data)

    def __repr__(self) -> str:  # never print key material
        return f"OrganisationKeys({str(self.directory)!r}, {self.fingerprint})"


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (no window where others can read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if os.name == "posix":
        os.chmod(path, 0o600)  # in case the umask was stricter than usual, keep it exact


def init_keys(
    directory: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    exist_ok: bool = False,
) -> Path:
    """Create the signing key and the pseudonymisation secret; returns their folder.

    Refuses to replace existing keys unless ``force`` (a new key makes earlier bundles
    verifiable only with the old public key, and changes every partner token). With
    ``exist_ok`` a folder that already holds all three keys is kept as it is (a folder with
    only some of them is still an error).
    """
    folder = Path(directory) if directory is not None else keys_dir()
    paths = [folder / SIGNING_KEY, folder / PSEUDONYM_KEY, folder / PUBLIC_KEY]
    existing = [p for p in paths if p.exists()]
    if exist_ok and not force and len(existing) == len(paths):
        return folder
    if existing and not force:
        raise InputError(
            f"keys already exist in {folder}; keep them (earlier bundles and partner tokens "
            "depend on them) or pass force=True (--force) to replace them"
        )
    folder.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(folder, 0o700)
    for path in existing:
        path.unlink()
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(folder / SIGNING_KEY, pem)
    _write_private(folder / PSEUDONYM_KEY, secrets.token_hex(32).encode("ascii") + b"\n")
    (folder / PUBLIC_KEY).write_bytes(public_pem(key.public_key()))
    return folder


def _read_private(path: Path) -> bytes:
    if not path.is_file():
        raise NotFoundError(
            f"no {path.name} in {path.parent}; run `workbench keys init` to create the "
            f"organisation's keys (or set {KEYS_ENV} to the folder that holds them)"
        )
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise InputError(f"{path} can be read by other users; run `chmod 600 {path}` and try again")
    return path.read_bytes()


def load_keys(directory: str | os.PathLike[str] | None = None) -> OrganisationKeys:
    """Load the organisation's keys from ``directory`` (default :func:`keys_dir`)."""
    folder = Path(directory) if directory is not None else keys_dir()
    private = serialization.load_pem_private_key(_read_private(folder / SIGNING_KEY), None)
    if not isinstance(private, Ed25519PrivateKey):
        raise InputError(f"{folder / SIGNING_KEY} is not an Ed25519 key")
    secret = bytes.fromhex(_read_private(folder / PSEUDONYM_KEY).decode("ascii").strip())
    if len(secret) < 32:
        raise InputError(f"{folder / PSEUDONYM_KEY} holds fewer than 32 bytes of secret")
    return OrganisationKeys(folder, private, secret)


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM bytes (as written into bundles)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as error:
        raise InputError(f"not a PEM public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("the public key is not an Ed25519 key")
    return key


def verify_signature(public_key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is the key's signature of ``data``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def pseudonym(value: str, key: bytes) -> str:
    """A stable token for a normalised identifier: keyed HMAC-SHA-256, base32, 20 characters.

    The same value and key give the same token in every bundle; without the key the
    value cannot be recovered or tested against a guess.

    >>> pseudonym("+8613800138000", b"k" * 32)
    'P-NC5J3J2ZZZKUTXLWRFSQ'
    """
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()[:_TOKEN_BYTES]
    return "P-" + base64.b32encode(digest).decode("ascii").rstrip("=")
