"""BagIt (RFC 8493) writing and checking, with a detached Ed25519 signature of the tag manifest.

A bag is a folder: ``bagit.txt``, ``bag-info.txt`` (who sent it, the reference), the payload
under ``data/``, ``manifest-sha256.txt`` (one ``<sha256>  data/<path>`` line per payload file),
the sender's public key ``organisation-key.pub.pem``, and ``tagmanifest-sha256.txt`` over
those four tag files. The signature ``tagmanifest-sha256.txt.sig`` is the raw 64-byte Ed25519
signature of the tag manifest's bytes, so it covers what the recipient reads: bag-info, the
payload manifest and through it every payload file. OpenSSL checks it with
``openssl pkeyutl -verify -pubin -inkey organisation-key.pub.pem -rawin
-in tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig``.

Checking refuses anything the signature does not cover: a file listed in no manifest, a
symbolic link, a zip holding two entries of one name (unzip tools disagree on which one is
"the" file). Files are hashed in blocks, so a zip entry that inflates to gigabytes costs time,
not memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import stat
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from workbench.errors import InputError
from workbench.export._keys import fingerprint, load_public_key, verify_signature

__all__ = ["MANIFEST", "PUBLIC_KEY", "SIGNATURE", "BundleCheck", "check_bag", "write_bag"]

BAGIT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
SIGNATURE = "tagmanifest-sha256.txt.sig"
PUBLIC_KEY = "organisation-key.pub.pem"
SIGNED_TAGS = (BAGIT, BAG_INFO, MANIFEST, PUBLIC_KEY)  # what the tag manifest must list
_BAGIT_TEXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_TAG_FILE_LIMIT = 16 << 20  # tag files are read whole: bounded
_BLOCK = 1 << 20


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
    (folder / PUBLIC_KEY).write_bytes(public_pem)
    bag_info = [_info_line(k, v) for k, v in info.items()]
    bag_info += [
        _info_line("Bagging-Date", dt.date.today().isoformat()),
        _info_line("Payload-Oxum", f"{octets}.{len(payload)}"),
    ]
    (folder / BAG_INFO).write_text("\n".join(bag_info) + "\n", encoding="utf-8", newline="\n")
    tag_manifest = "".join(
        f"{_sha256((folder / t).read_bytes())}  {t}\n" for t in SIGNED_TAGS
    ).encode("utf-8")
    (folder / TAG_MANIFEST).write_bytes(tag_manifest)
    (folder / SIGNATURE).write_bytes(sign(tag_manifest))
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
        if not self.ok:
            return f"bundle {self.path} {ref}: NOT intact\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        text = (
            f"bundle {self.path} {ref}: intact, {self.n_files} files match the manifest; "
            f"signature valid with "
        )
        if not self.key_from_bundle:
            return text + f"the key you gave ({self.key_fingerprint})"
        return text + (
            f"the key inside the bundle ({self.key_fingerprint})\n"
            "WARNING: ORIGIN NOT CHECKED. Anyone can make a bundle that verifies with its own "
            "key: this proves the files are complete and unchanged since signing, not who "
            "signed them. Verify with --key and the sender's public key, obtained separately, "
            "or confirm this fingerprint with the sender."
        )


class _Files:
    """The files of a bag, from a folder or a zip (one top folder), as relative POSIX paths.

    Links, duplicate zip entries and names that leave the bag are collected in ``refused``
    with the reason, never read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        self.refused: list[str] = []
        if path.is_symlink():
            raise InputError(f"{path}: a symbolic link; give the bundle folder or zip itself")
        if path.is_dir():
            self.names = self._walk(path)
        elif zipfile.is_zipfile(path):
            self.names = self._members(zipfile.ZipFile(path))
        else:
            raise InputError(f"{path}: not a bundle folder or zip file")
        self._known = set(self.names)

    def _walk(self, root: Path) -> list[str]:
        names = []
        for top, dirs, files in os.walk(root, followlinks=False):
            for name in sorted(dirs + files):
                full = Path(top) / name
                rel = full.relative_to(root).as_posix()
                mode = full.lstat().st_mode
                if stat.S_ISLNK(mode):
                    self.refused.append(f"{rel}: a symbolic link (refused: a bag holds only files)")
                elif stat.S_ISREG(mode):
                    names.append(rel)
                elif not stat.S_ISDIR(mode):
                    self.refused.append(f"{rel}: not a regular file (refused)")
            dirs[:] = [d for d in dirs if not (Path(top) / d).is_symlink()]
        return sorted(names)

    def _members(self, archive: zipfile.ZipFile) -> list[str]:
        self._zip = archive
        members = [i for i in archive.infolist() if not i.is_dir()]
        tops = {i.filename.split("/", 1)[0] for i in members}
        if len(tops) == 1 and all("/" in i.filename for i in members):
            self._prefix = tops.pop() + "/"
        seen: set[str] = set()
        names = []
        for info in members:
            name = info.filename.removeprefix(self._prefix)
            kind = (info.external_attr >> 16) & 0o170000
            if name in seen:
                self.refused.append(f"{name}: appears twice in the zip (refused)")
            elif kind == stat.S_IFLNK:
                self.refused.append(f"{name}: a symbolic link (refused: a bag holds only files)")
            elif name.startswith("/") or ".." in PurePosixPath(name).parts:
                self.refused.append(f"{name}: a path that leaves the bag (refused)")
            else:
                names.append(name)
            seen.add(name)
        duplicated = {r.split(":", 1)[0] for r in self.refused if "appears twice" in r}
        return sorted(n for n in names if n not in duplicated)

    def exists(self, name: str) -> bool:
        return name in self._known

    def _open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            return self._zip.open(self._prefix + name)
        return (self.path / name).open("rb")

    def read(self, name: str, limit: int = _TAG_FILE_LIMIT) -> bytes | None:
        """A small file whole (None if absent); larger than ``limit`` is an error."""
        if not self.exists(name):
            return None
        with self._open(name) as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"{name}: larger than {limit >> 20} MiB; not a workbench bundle")
        return data

    def sha256(self, name: str) -> str:
        """The file's SHA-256, read in blocks (bounded memory, whatever the size)."""
        digest = hashlib.sha256()
        with self._open(name) as handle:
            while block := handle.read(_BLOCK):
                digest.update(block)
        return digest.hexdigest()

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
        check.problems.extend(files.refused)
        _check(files, check, public_pem)
    finally:
        files.close()
    return check


def _check_listed(files: _Files, listed: dict[str, str], where: str, problems: list[str]) -> None:
    for name, digest in sorted(listed.items()):
        if not files.exists(name):
            problems.append(f"{name}: missing (listed in {where})")
        elif files.sha256(name) != digest:
            problems.append(f"{name}: changed (its SHA-256 differs from {where})")


def _listing(
    files: _Files, name: str, problems: list[str], missing: str
) -> tuple[bytes | None, dict[str, str]]:
    """A manifest's bytes and its path -> SHA-256 entries, every listed file checked."""
    raw = files.read(name)
    if raw is None:
        problems.append(f"{name}: missing{missing}")
        return None, {}
    listed = {n: d for d, n in _manifest(raw.decode("utf-8", "replace"), problems, name)}
    _check_listed(files, listed, name, problems)
    return raw, listed


def _check(files: _Files, check: BundleCheck, public_pem: bytes | None) -> None:
    problems = check.problems
    if not files.exists(BAGIT):
        problems.append(f"{BAGIT}: missing (not a BagIt bag)")
    info = files.read(BAG_INFO)
    if info is not None:
        for line in info.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            check.info[key.strip()] = value.strip()
    unsigned = f" ({BAG_INFO} and the manifest are unsigned)"
    tag_manifest, tags = _listing(files, TAG_MANIFEST, problems, unsigned)
    if tag_manifest is not None:
        problems.extend(
            f"{name}: not listed in {TAG_MANIFEST} (not covered by the signature)"
            for name in SIGNED_TAGS
            if name not in tags
        )
    _, listed = _listing(files, MANIFEST, problems, "")
    for name in files.names:
        if name in listed or name in tags or name in (TAG_MANIFEST, SIGNATURE):
            continue
        if name.startswith("data/"):
            problems.append(f"{name}: not in {MANIFEST} (added after signing)")
        else:
            problems.append(f"{name}: not listed in any manifest (added after signing)")
    check.n_files = len(listed)
    if tag_manifest is not None:
        _check_signature(files, check, tag_manifest, public_pem)


def _check_signature(
    files: _Files, check: BundleCheck, tag_manifest: bytes, public_pem: bytes | None
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
    check.signature_ok = verify_signature(key, tag_manifest, signature)
    if not check.signature_ok:
        check.problems.append(
            f"{TAG_MANIFEST}: signature does not match with key {check.key_fingerprint} (the "
            f"tag manifest, {BAG_INFO} or the manifest was changed after signing, or it was "
            "signed with another key)"
        )
    if public_pem is not None and bundled is not None:
        inside = fingerprint(load_public_key(bundled))
        if inside != check.key_fingerprint:
            check.problems.append(
                f"{PUBLIC_KEY}: the bundle carries key {inside}, not the key you gave "
                f"({check.key_fingerprint})"
            )
