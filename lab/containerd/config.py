"""containerd config text as data: strict parsing, the config versions the lab knows, where the
CRI keeps its runtimes in each, and TOML keys and values rendered for an edit."""
from __future__ import annotations

import re
import tomllib
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from lab.errors import LabError

MARK = "managed by wasm-lab"
CRI_V2 = "io.containerd.grpc.v1.cri"
CRI_RUNTIME_V3 = "io.containerd.cri.v1.runtime"
CRI_IMAGES_V3 = "io.containerd.cri.v1.images"
SUPPORTED_VERSIONS = (2, 3, 4)
RUNC_TYPE = "io.containerd.runc.v2"
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")


class ConfigError(LabError, ValueError):
    """The containerd config cannot be edited safely; the message names the file and why."""


def parse(text: str, path: str) -> dict:
    """Parse TOML strictly (as containerd does) into plain data; a ConfigError names the file.

    Reading uses the standard library's parser; edits are made on the text itself and
    values are rendered with tomlkit, so untouched bytes never pass through a serializer.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{path}: expected the config as text, got {type(text).__name__}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def version_of(data: dict, path: str) -> int:
    if "version" not in data:
        raise ConfigError(
            f"{path}: containerd config version 1 is not supported (the file has no "
            "`version` key); migrate it with `containerd config migrate` or add `version = 2`"
        )
    version = data["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ConfigError(f"{path}: containerd config `version` must be an integer, got {version!r}")
    if version == 1:
        raise ConfigError(
            f"{path}: containerd config version 1 is not supported; "
            "migrate it with `containerd config migrate` (containerd 2.x) or rewrite it as version 2"
        )
    if version not in SUPPORTED_VERSIONS:
        raise ConfigError(
            f"{path}: unknown containerd config version {version}; wasm-lab knows versions 2, 3 and 4"
        )
    return version


def config_version(text: str, path: str = "containerd config") -> int:
    """The config's ``version``: 2 (containerd 1.x), 3 (2.x) or 4 (2.3+); version 1 is refused."""
    return version_of(parse(text, path), path)


def runtimes_path(version: int) -> tuple[str, ...]:
    """TOML key path of the CRI runtimes table for a config version."""
    if version == 2:
        return ("plugins", CRI_V2, "containerd", "runtimes")
    if version in (3, 4):
        return ("plugins", CRI_RUNTIME_V3, "containerd", "runtimes")
    raise ConfigError(f"unknown containerd config version {version!r}; wasm-lab knows versions 2, 3 and 4")


def dig(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def deep_merge(into: dict, other: dict) -> dict:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def runtimes_of(data: dict, version: int) -> dict:
    found = dig(data, runtimes_path(version))
    return found if isinstance(found, dict) else {}


def systemd_cgroup(text: str, drop_ins: dict[str, str] | None = None) -> bool:
    """Whether the default runc runtime sets ``SystemdCgroup = true``.

    The default runtime is ``default_runtime_name`` when it is a runc runtime, else the
    runtime named ``runc``. For version 3+ configs, runc settings found in ``drop_ins`` are
    merged on top in file-name order, as containerd 2.x does. Unset means false.
    """
    data = parse(text, "containerd config")
    version = version_of(data, "containerd config")
    if version >= 3:
        for path in sorted(drop_ins or {}):
            deep_merge(data, parse((drop_ins or {})[path], path))
    runtimes = runtimes_of(data, version)
    default = dig(data, runtimes_path(version)[:-1] + ("default_runtime_name",)) or "runc"
    runtime = runtimes.get(default)
    if not (isinstance(runtime, dict) and runtime.get("runtime_type", RUNC_TYPE) == RUNC_TYPE):
        runtime = runtimes.get("runc")
    return dig(runtime, ("options", "SystemdCgroup")) is True


def toml_key(name: str) -> str:
    return name if _BARE_KEY_RE.fullmatch(name) else tomlkit.string(name).as_string()


def toml_value(value: Any) -> str:
    try:
        if isinstance(value, dict):  # keep nested option tables on one line
            table = tomlkit.inline_table()
            table.update(value)
            return table.as_string()
        return tomlkit.item(value).as_string()
    except (TOMLKitError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot write {value!r} as a TOML value: {exc}") from None
