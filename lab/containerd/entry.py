"""The runtime the lab registers (:class:`RuntimeEntry`), rendered as a containerd table and
compared with what a config already holds."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from lab.containerd.config import MARK, ConfigError, runtimes_of, runtimes_path, toml_key, toml_value

# RuntimeClass handlers are DNS labels; the name also ends up in a file name and markers.
HANDLER_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class RuntimeEntry:
    """One containerd runtime the lab registers, keyed by its RuntimeClass handler."""

    handler: str  # RuntimeClass handler and runtimes.<handler> key
    runtime_type: str  # e.g. io.containerd.wasmedge.v1, or io.containerd.runc.v2 for crun
    options: dict = field(default_factory=dict)  # written under runtimes.<handler>.options
    pod_annotations: tuple = ()  # annotation keys passed into the OCI spec (crun needs its variant)

    def __post_init__(self) -> None:
        if not isinstance(self.handler, str) or not HANDLER_RE.fullmatch(self.handler):
            raise ValueError(
                f"runtime handler {self.handler!r} must be a DNS label "
                "(lower-case letters, digits and '-', at most 63 characters)"
            )
        if not isinstance(self.runtime_type, str) or not self.runtime_type.strip():
            raise ValueError(f"runtime {self.handler!r}: runtime_type must be a non-empty string")
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise ValueError(f"runtime {self.handler!r}: options must be a dict with string keys")
        annotations = self.pod_annotations
        if isinstance(annotations, str):
            annotations = (annotations,)
        annotations = tuple(annotations)
        if not all(isinstance(a, str) and a for a in annotations):
            raise ValueError(f"runtime {self.handler!r}: pod_annotations must be non-empty strings")
        object.__setattr__(self, "pod_annotations", annotations)

    def __hash__(self) -> int:  # options is a dict; hash what identifies the runtime
        return hash((self.handler, self.runtime_type, self.pod_annotations))


def desired_options(entry: RuntimeEntry, systemd: bool) -> dict:
    options = dict(entry.options)
    options.setdefault("SystemdCgroup", systemd)
    return options


def render_table(version: int, entry: RuntimeEntry, options: dict) -> str:
    prefix = ".".join(toml_key(k) for k in runtimes_path(version)) + "." + toml_key(entry.handler)
    lines = [f"[{prefix}]", f"  runtime_type = {toml_value(entry.runtime_type)}"]
    if entry.pod_annotations:
        lines.append(f"  pod_annotations = {toml_value(list(entry.pod_annotations))}")
    lines.append(f"  [{prefix}.options]")
    lines += [f"    {toml_key(k)} = {toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def drop_in_text(version: int, entry: RuntimeEntry, options: dict) -> str:
    return (
        f'# {MARK}: containerd runtime "{entry.handler}" for the RuntimeClass handler of that name.\n'
        "# wasm-lab writes and deletes this whole file; change the lab's settings, not this file.\n"
        f"version = {version}\n\n" + render_table(version, entry, options)
    )


def differences(runtime: Any, entry: RuntimeEntry, options: dict) -> list[str]:
    if not isinstance(runtime, dict):
        return [f"it is {runtime!r}, not a table"]
    diffs = []
    have_type = runtime.get("runtime_type")
    if have_type != entry.runtime_type:
        diffs.append(f"runtime_type = {have_type!r}, want {entry.runtime_type!r}")
    have_options = runtime.get("options") or {}
    if not isinstance(have_options, dict):
        have_options = {}
    for key, want in options.items():
        have = have_options.get(key, False if key == "SystemdCgroup" else None)
        if have != want:
            diffs.append(f"options.{key} = {have!r}, want {want!r}")
    have_annotations = runtime.get("pod_annotations") or []
    missing = [a for a in entry.pod_annotations if a not in have_annotations]
    if missing:
        diffs.append(f"pod_annotations lacks {missing!r}")
    return diffs


def check_foreign(runtime: Any, entry: RuntimeEntry, options: dict, path: str) -> None:
    """Accept a runtime the lab did not write only when it already matches exactly."""
    diffs = differences(runtime, entry, options)
    if not diffs:
        return
    have_type = runtime.get("runtime_type") if isinstance(runtime, dict) else None
    if have_type != entry.runtime_type:
        raise ConfigError(
            f'{path}: containerd runtime "{entry.handler}" already exists with runtime_type '
            f"{have_type!r}, and wasm-lab did not write it; refusing to overwrite it with "
            f"{entry.runtime_type!r}. Remove or rename that runtime, or use another handler."
        )
    raise ConfigError(
        f'{path}: containerd runtime "{entry.handler}" exists but wasm-lab did not write it, and it '
        f"differs from what the lab needs ({'; '.join(diffs)}); refusing to change it. "
        "Fix or remove that runtime by hand."
    )


def check_result(text: str, path: str, version: int, entry: RuntimeEntry, options: dict) -> None:
    """The planned text must be strict TOML that yields exactly the wanted runtime."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: adding runtime \"{entry.handler}\" would give invalid TOML ({exc}); "
                          "the file's layout defeats the lab's edit, add the runtime by hand") from None
    diffs = differences(runtimes_of(data, version).get(entry.handler), entry, options)
    if diffs:
        raise ConfigError(f'{path}: after the edit runtime "{entry.handler}" would not read back as '
                          f"planned ({'; '.join(diffs)}); add it by hand")
