"""The oldest release the lab accepts of an origin (its `floor` in lab/defaults/artifacts.yaml),
held against what lab.lock or a mirror would put in the catalog's place."""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

from lab.artifacts.host import version_tuple
from lab.errors import InputError

RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


def refuse_below_floor(key: str, origin: dict, locked_version: str, mirrored: str, lock_path: Path) -> None:
    """Bad input (one line) when lab.lock or a mirror puts a release older than the origin's
    `floor` in its place: the version the lock records, or the release tag a mirror's URL names
    instead of the catalog's."""
    floor = origin.get("floor")
    if not floor:
        return
    refused = f"{floor['of']} older than {floor['version']} is refused ({floor['why']})"
    if locked_version and version_tuple(locked_version) < version_tuple(floor["version"]):
        raise InputError(f"lock: {lock_path} pins {key} to {floor['of']} {locked_version}; {refused}; "
                         "delete that entry")
    tags = RELEASE_TAG.findall(urllib.parse.unquote(mirrored))
    older = [tag for tag in tags if version_tuple(tag) < version_tuple(floor["version"])]
    if older and origin.get("version") not in tags:
        raise InputError(f"mirrors: {key} would come from {mirrored}, {floor['of']} {older[0]}; {refused}")
