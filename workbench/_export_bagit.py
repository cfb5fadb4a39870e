"""BagIt (RFC 8493) writing and checking, with a detached Ed25519 signature of the manifest.

A bag is a folder: ``bagit.txt``, ``bag-info.txt``, the payload under ``data/``,
``manifest-sha256.txt`` (one ``<sha256>  data/<path>`` line per payload file) and
``tagmanifest-sha256.txt`` over the other tag files. The signature
``manifest-sha256.txt.sig`` is the raw 64-byte Ed25519 signature of the manifest's bytes,
next to the signer's public key ``organisation-key.pub.pem``; OpenSSL checks it with
``openssl pkeyutl -verify -pubin -inkey organisation-key.pub.pem -rawin
-in manifest-sha256.txt -sigfile manifest-sha256.txt.sig``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from workbench.errors import InputError
from workbench.keys import fingerprint, load_public_key, verify_signature

__all__ = ["MANIFEST", "PUBLIC_KEY", "SIGNATURE", "BundleCheck", "check_bag", "write_bag"]

BAGIT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = "manifest-sha256.txt.sig"
PUBLIC_KEY = "organisation-key.pub.pem"
_BAGIT_TEXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: percent-encode %, CR and LF in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def _info_line(key: str, value: str) -> str:
    return f"{key}: {' '.join(str(value).split())}"  # one line: no CR/LF from the data


def write_bag(
    folder: Path,
    info: Mapping[str, str],
    *,
    sign: Callable[[bytes], bytes],
    public_pem: bytes,
) -> str:
    """Make ``folder`` (with its payload in ``data/``) a signed bag; returns the manifest hash."""
    payload = sorted(p for p in (folder / "data").rglob("*") if p.is_file())
    lines, octets = [], 0
    for path in payload:
        data = path.read_bytes()
        octets += len(data)
        lines.append(f"{_sha256(data)}  {_encode_path(path.relative_to(folder).as_posix())}\n")
    manifest = "".join(lines).encode("utf-8")
    (folder / BAGIT).write_text(_BAGIT_TEXT, encoding="utf-8", newline="\n")
    (folder / MANIFEST).write_bytes(manifest)
    (folder / SIGNATURE).write_bytes(sign(manifest))
    (folder / PUBLIC_KEY).write_bytes(public_pem)
    bag_info = [_info_line(k, v) for k, v in info.items()]
    bag_info += [
        _info_line("Bagging-Date", dt.date.today().isoformat()),
        _info_line("Payload-Oxum", f"{octets}.{len(payload)}"),
    ]
    (folder / BAG_INFO).write_text("\n".join(bag_info) + "\n", encoding="utf-8", newline="\n")
    tags = [BAGIT, BAG_INFO, MANIFEST, SIGNATURE, PUBLIC_KEY]
    (folder / TAG_MANIFEST).write_text(
        "".join(f"{_sha256((folder / t).read_bytes())}  {t}\n" for t in tags),
        encoding="utf-8",
        newline="\n",
    )
    return _sha256(manifest)


@dataclass
class BundleCheck:
    """Result of checking a bundle: ``ok``, and every problem naming its file."""

    path: Path
    problems: list[str] = field(default_factory=list)
    n_files: int = 0
    key_fingerprint: str = ""
    key_from_bundle: bool = True
    signature_ok: bool = False
    info: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.signature_ok

    def __str__(self) -> str:
        ref = self.info.get("External-Identifier", "")
        if self.ok:
            trust = (
                "with the key you gave"
                if not self.key_from_bundle
                else "with the key inside the bundle: confirm its fingerprint with the sender"
            )
            return (
                f"bundle {self.path} {ref}: intact, {self.n_files} files match the manifest; "
                f"signature valid {trust} ({self.key_fingerprint})"
            )
        return f"bundle {self.path} {ref}: NOT intact\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )


class _Files:
    """The files of a bag, from a folder or a zip (one top folder), as relative POSIX paths."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            self.names = sorted(
                p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()
            )
        elif zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            members = [n for n in self._zip.namelist() if not n.endswith("/")]
            tops = {n.split("/", 1)[0] for n in members}
            if len(tops) == 1 and all("/" in n for n in members):
                self._prefix = tops.pop() + "/"
            self.names = sorted(n.removeprefix(self._prefix) for n in members)
        else:
            raise InputError(f"{path}: not a bundle folder or zip file")

    def read(self, name: str) -> bytes | None:
        if name not in set(self.names):
            return None
        if self._zip is not None:
            return self._zip.read(self._prefix + name)
        return (self.path / name).read_bytes()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _manifest(text: str, problems: list[str], where: str) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        name = _decode_path(name.lstrip(" *"))
        parts = PurePosixPath(name).parts
        if len(digest) != 64 or not name or ".." in parts or name.startswith("/"):
            problems.append(f"{where} line {number}: not '<sha256>  <path>' inside the bag")
            continue
        yield digest.lower(), name


def check_bag(path: str | Path, public_pem: bytes | None = None) -> BundleCheck:
    """Check every hash and the signature of a bag; with ``public_pem`` trust only that key."""
    files = _Files(Path(path))
    check = BundleCheck(Path(path), key_from_bundle=public_pem is None)
    try:
        _check(files, check, public_pem)
    finally:
        files.close()
    return check


def _check(files: _Files, check: BundleCheck, public_pem: bytes | None) -> None:
    problems = check.problems
    if files.read(BAGIT) is None:
        problems.append(f"{BAGIT}: missing (not a BagIt bag)")
    info = files.read(BAG_INFO)
    if info is not None:
        for line in info.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            check.info[key.strip()] = value.strip()
    manifest = files.read(MANIFEST)
    if manifest is None:
        problems.append(f"{MANIFEST}: missing")
        return
    listed = dict(
        (n, d) for d, n in _manifest(manifest.decode("utf-8", "replace"), problems, MANIFEST)
    )
    for name, digest in sorted(listed.items()):
        data = files.read(name)
        if data is None:
            problems.append(f"{name}: missing (listed in {MANIFEST})")
        elif _sha256(data) != digest:
            problems.append(f"{name}: changed (its SHA-256 differs from {MANIFEST})")
    for name in files.names:
        if name.startswith("data/") and name not in listed:
            problems.append(f"{name}: not in {MANIFEST} (added after signing)")
    check.n_files = len(listed)
    tags = files.read(TAG_MANIFEST)
    if tags is not None:
        for digest, name in _manifest(tags.decode("utf-8", "replace"), problems, TAG_MANIFEST):
            data = files.read(name)
            if data is not None and _sha256(data) != digest:
                problems.append(f"{name}: changed (its SHA-256 differs from {TAG_MANIFEST})")
    _check_signature(files, check, manifest, public_pem)


def _check_signature(
    files: _Files, check: BundleCheck, manifest: bytes, public_pem: bytes | None
) -> None:
    signature, bundled = files.read(SIGNATURE), files.read(PUBLIC_KEY)
    if signature is None:
        check.problems.append(f"{SIGNATURE}: missing (the bundle is unsigned or incomplete)")
        return
    pem = public_pem if public_pem is not None else bundled
    if pem is None:
        check.problems.append(f"{PUBLIC_KEY}: missing and no key given (--key)")
        return
    key = load_public_key(pem)
    check.key_fingerprint = fingerprint(key)
    check.signature_ok = verify_signature(key, manifest, signature)
    if not check.signature_ok:
        check.problems.append(
            f"{MANIFEST}: signature does not match with key {check.key_fingerprint} (the "
            "manifest was changed after signing, or it was signed with another key)"
        )
    if public_pem is not None and bundled is not None:
        inside = fingerprint(load_public_key(bundled))
        if inside != check.key_fingerprint:
            check.problems.append(
                f"{PUBLIC_KEY}: the bundle carries key {inside}, not the key you gave "
                f"({check.key_fingerprint})"
            )
