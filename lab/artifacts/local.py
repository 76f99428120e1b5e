"""What the resolver hands on: files, bundles and images on this machine, each with the pin it
was verified against (checked again when its bytes are read)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError


def verified_bytes(path: Path, sha256: str) -> bytes:
    """A cached file's bytes, checked against its pin at the moment they are used: the cache may
    have been written since the file was resolved."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise LabError(f"{path}: sha256 {actual}, expected {sha256}; not used (the cache changed since it was verified)")
    return data


@dataclass(frozen=True)
class LocalFile:
    path: Path
    sha256: str                         # the pin: lab.lock's, the verified archive's or the kit manifest's
    needs: tuple[str, ...] = ()         # bundles this file needs on the node (per origin)

    def verified_bytes(self) -> bytes:
        return verified_bytes(self.path, self.sha256)


@dataclass(frozen=True)
class LocalBundle:
    """A directory installed as a whole on a node (e.g. .debs and their install script)."""
    path: Path
    files: dict[str, str]               # relative path -> sha256

    def verified_bytes(self, relative: str) -> bytes:
        return verified_bytes(self.path / relative, self.files[relative])

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(self.files.items())).encode()).hexdigest()


@dataclass(frozen=True)
class LocalImage:
    ref: str                            # what docker build / kind use
    digest: str = ""                    # registry digest (kit images are pinned by the kit manifest)

