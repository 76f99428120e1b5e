"""Reading ``containerd config dump``: the check after a restart, because containerd silently
ignores a key under the wrong plugin name."""
from __future__ import annotations

from lab.containerd.config import CRI_IMAGES_V3, CRI_V2, SUPPORTED_VERSIONS, dig, parse, runtimes_of
from lab.containerd.entry import RuntimeEntry


def dump_has_runtime(dump_text: str, entry: RuntimeEntry) -> bool:
    """Whether ``containerd config dump`` output offers entry's runtime as planned.

    True when ``runtimes.<handler>.runtime_type`` equals ``entry.runtime_type`` under the
    CRI plugin name of the dump's version (both names are tried when the dump has none),
    and, when the entry asks for pod annotations, each of them is listed.
    """
    data = parse(dump_text, "containerd config dump")
    version = data.get("version")
    versions = [version] if version in SUPPORTED_VERSIONS else [2, 3]
    for candidate in versions:
        runtime = runtimes_of(data, candidate).get(entry.handler)
        if not isinstance(runtime, dict):
            continue
        annotations = runtime.get("pod_annotations") or []
        return runtime.get("runtime_type") == entry.runtime_type and all(
            a in annotations for a in entry.pod_annotations
        )
    return False


def registry_hosts_dirs(dump_text: str) -> list[str]:
    """The folders the CRI reads registry hosts.toml files from (`registry.config_path`, a
    colon-separated list) in ``containerd config dump`` output; [] when unset (then the CRI
    ignores hosts.toml files and uses only its deprecated `mirrors` table)."""
    data = parse(dump_text, "containerd config dump")
    by_version = {2: [CRI_V2], 3: [CRI_IMAGES_V3], 4: [CRI_IMAGES_V3]}
    plugins = by_version.get(data.get("version") or 0, [CRI_V2, CRI_IMAGES_V3])
    for plugin in plugins:
        config_path = dig(data, ("plugins", plugin, "registry", "config_path"))
        if isinstance(config_path, str) and config_path:
            return [d for d in config_path.split(":") if d]
    return []
