"""Plan the edits to a node's containerd config that register a WebAssembly runtime.

Pure functions over config text: nothing here talks to a node. The caller reads the
files (the main config and, where it imports a conf.d glob, the files in that
directory), asks for a plan, writes what the plan says, restarts containerd only when
the plan is not empty, and then confirms with ``containerd config dump`` and
:func:`dump_has_runtime`, because containerd silently ignores a key under the wrong
plugin name.

How the lab edits, by config version:

* version 2 (containerd 1.x) and version 3 (containerd 2.x): one table is appended to the
  main file, between two marker comments (``# managed by wasm-lab: runtime "<handler>"``).
  Everything else in the file stays byte-for-byte as it was; uninstall cuts the block out
  again and gives back the original text exactly. A version 2 file is always edited in
  place, even when it imports a conf.d glob: containerd 1.x replaces a plugin's whole
  section with the one found in an imported file (containerd issues #5837, #7982), so a
  drop-in holding only our runtime would erase the node's runc settings.
* version 4 (containerd 2.3+), or version 3 whose ``imports`` already names a ``*.toml``
  glob: the runtime goes into its own drop-in ``<conf.d>/wasm-lab-<handler>.toml``
  (containerd 2.x merges drop-ins key by key). The drop-in declares the root file's
  version, since containerd refuses a drop-in newer than the root and migrates an older
  one. When the main file has no such glob, the lab adds
  ``imports = ["<dir of main>/conf.d/*.toml"]`` with a marker comment above it that
  records the original line and the runtimes that need it; uninstalling the last of
  them puts the original line back.

Runtimes the lab did not write are never changed: an identical one counts as already
installed, a different one is a :class:`ConfigError` naming the handler and the file.
"""
from __future__ import annotations

import posixpath
import re
import tomllib
from dataclasses import dataclass, field
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
DROP_IN_PREFIX = "wasm-lab-"

# RuntimeClass handlers are DNS labels; the name also ends up in a file name and markers.
_HANDLER_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_BEGIN_RE = re.compile(
    r'^# managed by wasm-lab: runtime "(?P<h>[^"]+)" \(begin(?P<eol>, newline added at end of file)?[^)]*\).*$',
    re.M,
)
_IMPORT_MARK_RE = re.compile(
    r"^# managed by wasm-lab: conf\.d import for runtimes \[(?P<hs>[^\]]*)\]; original: (?P<orig>.*)$",
    re.M,
)
_NO_ORIGINAL = "(no imports line)"
_HEADER_RE = re.compile(r"^\s*\[")


class ConfigError(LabError, ValueError):
    """The containerd config cannot be edited safely; the message names the file and why."""


@dataclass(frozen=True)
class RuntimeEntry:
    """One containerd runtime the lab registers, keyed by its RuntimeClass handler."""

    handler: str  # RuntimeClass handler and runtimes.<handler> key
    runtime_type: str  # e.g. io.containerd.wasmedge.v1, or io.containerd.runc.v2 for crun
    options: dict = field(default_factory=dict)  # written under runtimes.<handler>.options
    pod_annotations: tuple = ()  # annotation keys passed into the OCI spec (crun needs its variant)

    def __post_init__(self) -> None:
        if not isinstance(self.handler, str) or not _HANDLER_RE.fullmatch(self.handler):
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


# --------------------------------------------------------------------------- parsing


def _parse(text: str, path: str) -> dict:
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


def _version_of(data: dict, path: str) -> int:
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
    return _version_of(_parse(text, path), path)


def runtimes_path(version: int) -> tuple[str, ...]:
    """TOML key path of the CRI runtimes table for a config version."""
    if version == 2:
        return ("plugins", CRI_V2, "containerd", "runtimes")
    if version in (3, 4):
        return ("plugins", CRI_RUNTIME_V3, "containerd", "runtimes")
    raise ConfigError(f"unknown containerd config version {version!r}; wasm-lab knows versions 2, 3 and 4")


def _dig(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _deep_merge(into: dict, other: dict) -> dict:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def _runtimes(data: dict, version: int) -> dict:
    found = _dig(data, runtimes_path(version))
    return found if isinstance(found, dict) else {}


def systemd_cgroup(text: str, drop_ins: dict[str, str] | None = None) -> bool:
    """Whether the default runc runtime sets ``SystemdCgroup = true``.

    The default runtime is ``default_runtime_name`` when it is a runc runtime, else the
    runtime named ``runc``. For version 3+ configs, runc settings found in ``drop_ins`` are
    merged on top in file-name order, as containerd 2.x does. Unset means false.
    """
    data = _parse(text, "containerd config")
    version = _version_of(data, "containerd config")
    if version >= 3:
        for path in sorted(drop_ins or {}):
            _deep_merge(data, _parse((drop_ins or {})[path], path))
    runtimes = _runtimes(data, version)
    default = _dig(data, runtimes_path(version)[:-1] + ("default_runtime_name",)) or "runc"
    runtime = runtimes.get(default)
    if not (isinstance(runtime, dict) and runtime.get("runtime_type", RUNC_TYPE) == RUNC_TYPE):
        runtime = runtimes.get("runc")
    return _dig(runtime, ("options", "SystemdCgroup")) is True


# --------------------------------------------------------------------------- rendering


def _key(name: str) -> str:
    return name if _BARE_KEY_RE.fullmatch(name) else tomlkit.string(name).as_string()


def _value(value: Any) -> str:
    try:
        if isinstance(value, dict):  # keep nested option tables on one line
            table = tomlkit.inline_table()
            table.update(value)
            return table.as_string()
        return tomlkit.item(value).as_string()
    except (TOMLKitError, TypeError, ValueError) as exc:
        raise ConfigError(f"cannot write {value!r} as a TOML value: {exc}") from None


def _desired_options(entry: RuntimeEntry, systemd: bool) -> dict:
    options = dict(entry.options)
    options.setdefault("SystemdCgroup", systemd)
    return options


def _render_table(version: int, entry: RuntimeEntry, options: dict) -> str:
    prefix = ".".join(_key(k) for k in runtimes_path(version)) + "." + _key(entry.handler)
    lines = [f"[{prefix}]", f"  runtime_type = {_value(entry.runtime_type)}"]
    if entry.pod_annotations:
        lines.append(f"  pod_annotations = {_value(list(entry.pod_annotations))}")
    lines.append(f"  [{prefix}.options]")
    lines += [f"    {_key(k)} = {_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _begin_marker(handler: str, newline_added: bool) -> str:
    extra = ", newline added at end of file" if newline_added else ""
    return f'# {MARK}: runtime "{handler}" (begin{extra}; wasm-lab removes this block on uninstall)'


def _end_marker(handler: str) -> str:
    return f'# {MARK}: runtime "{handler}" (end)'


def _drop_in_text(version: int, entry: RuntimeEntry, options: dict) -> str:
    return (
        f'# {MARK}: containerd runtime "{entry.handler}" for the RuntimeClass handler of that name.\n'
        "# wasm-lab writes and deletes this whole file; change the lab's settings, not this file.\n"
        f"version = {version}\n\n" + _render_table(version, entry, options)
    )


# --------------------------------------------------------------------------- marked blocks


def _find_block(text: str, handler: str, path: str) -> tuple[int, int, bool] | None:
    """(start, end, newline_added) of the lab's block for handler in text, or None."""
    for match in _BEGIN_RE.finditer(text):
        if match.group("h") != handler:
            continue
        end_line = _end_marker(handler)
        end_match = re.compile(r"^" + re.escape(end_line) + r"[ \t]*$", re.M).search(text, match.end())
        if end_match is None:
            raise ConfigError(
                f'{path}: the wasm-lab block for runtime "{handler}" has lost its end marker '
                f"({end_line!r}); fix the file by hand"
            )
        end = end_match.end()
        if end < len(text) and text[end] == "\n":
            end += 1
        return match.start(), end, bool(match.group("eol"))
    return None


def _remove_block(text: str, span: tuple[int, int, bool]) -> str:
    start, end, newline_added = span
    if start >= 2 and text[start - 2 : start] == "\n\n":
        start -= 1  # the blank line the lab put before its block
    result = text[:start] + text[end:]
    if newline_added and end >= len(text) and result.endswith("\n"):
        result = result[:-1]
    return result


def _append_block(text: str, block_body: str, handler: str) -> str:
    newline_added = bool(text) and not text.endswith("\n")
    sep = "\n\n" if newline_added else ("\n" if text else "")
    return text + sep + _begin_marker(handler, newline_added) + "\n" + block_body + _end_marker(handler) + "\n"


# --------------------------------------------------------------------------- comparisons


def _differences(runtime: Any, entry: RuntimeEntry, options: dict) -> list[str]:
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


def _check_foreign(runtime: Any, entry: RuntimeEntry, options: dict, path: str) -> None:
    """Accept a runtime the lab did not write only when it already matches exactly."""
    diffs = _differences(runtime, entry, options)
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


def _check_result(text: str, path: str, version: int, entry: RuntimeEntry, options: dict) -> None:
    """The planned text must be strict TOML that yields exactly the wanted runtime."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: adding runtime \"{entry.handler}\" would give invalid TOML ({exc}); "
                          "the file's layout defeats the lab's edit, add the runtime by hand") from None
    diffs = _differences(_runtimes(data, version).get(entry.handler), entry, options)
    if diffs:
        raise ConfigError(f'{path}: after the edit runtime "{entry.handler}" would not read back as '
                          f"planned ({'; '.join(diffs)}); add it by hand")


# --------------------------------------------------------------------------- imports (drop-in mode)


def _main_dir(main_path: str) -> str:
    return posixpath.dirname(main_path) or "."


def _import_dirs(data: dict, main_path: str) -> list[str]:
    """Directories named by ``<dir>/*.toml`` globs in imports, resolved like containerd does."""
    imports = data.get("imports") or []
    dirs = []
    for item in imports if isinstance(imports, list) else []:
        if isinstance(item, str) and posixpath.basename(item) == "*.toml":
            folder = posixpath.dirname(item)
            if not posixpath.isabs(folder):
                folder = posixpath.join(_main_dir(main_path), folder)
            dirs.append(posixpath.normpath(folder))
    return dirs


def import_dirs(main_path: str, main_text: str) -> list[str]:
    """The conf.d directories the main config imports: read their files and pass them as drop_ins."""
    return _import_dirs(_parse(main_text, main_path), main_path)


def _top_level_line(text: str, key: str) -> re.Match | None:
    """The line assigning a top-level key (before the first table header)."""
    line_re = re.compile(r"^[ \t]*" + re.escape(key) + r"[ \t]*=.*$")
    for match in re.finditer(r"^.*$", text, re.M):
        if _HEADER_RE.match(match.group(0)):
            return None
        if line_re.match(match.group(0)):
            return match
    return None


def _import_marker(handlers: list[str], original: str) -> str:
    return f"# {MARK}: conf.d import for runtimes [{', '.join(handlers)}]; original: {original}"


def _add_import(text: str, path: str, glob: str, handler: str) -> str:
    """Make the main file import glob, recording what it was so uninstall can restore it."""
    marker = _IMPORT_MARK_RE.search(text)
    if marker:  # the lab added the import earlier: just record one more runtime needing it
        handlers = [h.strip() for h in marker.group("hs").split(",") if h.strip()]
        if handler in handlers:
            return text
        new = _import_marker(sorted(handlers + [handler]), marker.group("orig"))
        return text[: marker.start()] + new + text[marker.end() :]
    line = _top_level_line(text, "imports")
    if line is None:
        version_line = _top_level_line(text, "version")
        if version_line is None:  # pragma: no cover - the version was parsed from this text
            raise ConfigError(f"{path}: cannot find the `version` line to put `imports` after")
        at = version_line.end() + 1 if version_line.end() < len(text) else version_line.end()
        prefix = "" if text[:at].endswith("\n") else "\n"
        added = f"{_import_marker([handler], _NO_ORIGINAL)}\nimports = {_value([glob])}\n"
        return text[:at] + prefix + added + text[at:]
    original = line.group(0)
    try:
        value = tomllib.loads(original)["imports"]
    except (tomllib.TOMLDecodeError, KeyError):
        raise ConfigError(
            f"{path}: `imports` spans several lines; add {glob!r} to it by hand and run the lab again"
        ) from None
    if not isinstance(value, list):
        raise ConfigError(f"{path}: `imports` must be a list of paths, got {value!r}")
    replacement = f"imports = {_value(value + [glob])}"
    return (text[: line.start()] + _import_marker([handler], original) + "\n" + replacement
            + text[line.end() :])


def _drop_import(text: str, handler: str) -> str:
    """Forget handler in the lab's import marker; restore the original line when none remain."""
    marker = _IMPORT_MARK_RE.search(text)
    if not marker:
        return text
    handlers = [h.strip() for h in marker.group("hs").split(",") if h.strip()]
    if handler not in handlers:
        return text
    handlers.remove(handler)
    if handlers:
        return text[: marker.start()] + _import_marker(handlers, marker.group("orig")) + text[marker.end() :]
    line_end = text.find("\n", marker.end() + 1)
    line_end = len(text) if line_end < 0 else line_end  # end of the imports line after the marker
    original = marker.group("orig")
    if original == _NO_ORIGINAL:
        return text[: marker.start()] + text[line_end + 1 :]
    return text[: marker.start()] + original + text[line_end:]


# --------------------------------------------------------------------------- plans


def _use_drop_in(version: int, import_dirs: list[str], has_import_marker: bool) -> bool:
    return version >= 4 or (version == 3 and (bool(import_dirs) or has_import_marker))


def plan_install(
    main_path: str, main_text: str, entry: RuntimeEntry, drop_ins: dict[str, str] | None = None
) -> dict[str, str]:
    """Files to write so containerd offers ``entry``: ``{path: new full text}``.

    ``drop_ins`` maps the paths of the files already in the imported conf.d directory to
    their text (pass them whenever the main file imports a glob: a runtime defined there
    counts, and the lab's own drop-in is compared to decide idempotence). An empty result
    means the runtime is already configured exactly so: write nothing, restart nothing.
    ``SystemdCgroup`` follows the default runc runtime unless ``entry.options`` sets it.
    """
    drop_ins = dict(drop_ins or {})
    data = _parse(main_text, main_path)
    version = _version_of(data, main_path)
    for path, text in drop_ins.items():
        _parse(text, path)
    options = _desired_options(entry, systemd_cgroup(main_text, drop_ins))

    span = _find_block(main_text, entry.handler, main_path)
    has_import_marker = _IMPORT_MARK_RE.search(main_text) is not None
    import_dirs = _import_dirs(data, main_path)

    if span is not None or not _use_drop_in(version, import_dirs, has_import_marker):
        return _plan_in_place(main_path, main_text, data, version, entry, options, span)

    # Drop-in mode: one file per runtime in the imported conf.d directory.
    conf_dir = import_dirs[0] if import_dirs else posixpath.join(_main_dir(main_path), "conf.d")
    own_path = posixpath.join(conf_dir, f"{DROP_IN_PREFIX}{entry.handler}.toml")
    foreign = _runtimes(data, version).get(entry.handler)
    if foreign is not None:
        _check_foreign(foreign, entry, options, main_path)
        return {}
    for path in sorted(drop_ins):
        if path == own_path:
            continue
        runtime = _runtimes(_parse(drop_ins[path], path), version).get(entry.handler)
        if runtime is not None:
            _check_foreign(runtime, entry, options, path)
            return {}

    plan: dict[str, str] = {}
    wanted = _drop_in_text(version, entry, options)
    if drop_ins.get(own_path) != wanted:
        _check_result(wanted, own_path, version, entry, options)
        plan[own_path] = wanted
    if not import_dirs or has_import_marker:
        glob = posixpath.join(conf_dir, "*.toml")
        new_main = _add_import(main_text, main_path, glob, entry.handler)
        if new_main != main_text:
            try:
                tomllib.loads(new_main)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{main_path}: adding the conf.d import would give invalid TOML ({exc})") from None
            plan[main_path] = new_main
    return plan


def _plan_in_place(main_path, main_text, data, version, entry, options, span) -> dict[str, str]:
    body = _render_table(version, entry, options)
    if span is None:
        foreign = _runtimes(data, version).get(entry.handler)
        if foreign is not None:
            _check_foreign(foreign, entry, options, main_path)
            return {}
        new_text = _append_block(main_text, body, entry.handler)
    else:
        start, end, newline_added = span
        block = _begin_marker(entry.handler, newline_added) + "\n" + body + _end_marker(entry.handler) + "\n"
        current = main_text[start:end]
        if current == block or (end == len(main_text) and current + "\n" == block):
            return {}
        new_text = main_text[:start] + block + main_text[end:]
    _check_result(new_text, main_path, version, entry, options)
    return {main_path: new_text}


def plan_uninstall(
    main_path: str, main_text: str, handler: str, drop_ins: dict[str, str] | None = None
) -> dict[str, str | None]:
    """Undo what :func:`plan_install` added for ``handler``: ``{path: new text, or None to delete}``.

    Only the lab's own block, drop-in and import are touched; a runtime the lab did not write
    is left alone. With ``drop_ins`` given, the lab's drop-in is deleted only if it is there
    (so an empty plan means nothing to undo); with ``drop_ins=None`` its deletion is always
    planned in drop-in mode (delete it like ``rm -f``).
    """
    if not isinstance(handler, str) or not _HANDLER_RE.fullmatch(handler):
        raise ConfigError(f"runtime handler {handler!r} is not a DNS label")
    data = _parse(main_text, main_path)
    version = _version_of(data, main_path)
    plan: dict[str, str | None] = {}

    new_main = main_text
    span = _find_block(main_text, handler, main_path)
    if span is not None:
        new_main = _remove_block(new_main, span)
    new_main = _drop_import(new_main, handler)
    if new_main != main_text:
        plan[main_path] = new_main

    has_import_marker = _IMPORT_MARK_RE.search(main_text) is not None
    import_dirs = _import_dirs(data, main_path)
    name = f"{DROP_IN_PREFIX}{handler}.toml"
    if drop_ins is not None:
        for path in sorted(drop_ins):
            if posixpath.basename(path) == name and posixpath.normpath(posixpath.dirname(path)) in import_dirs:
                plan[path] = None
    elif _use_drop_in(version, import_dirs, has_import_marker):
        conf_dir = import_dirs[0] if import_dirs else posixpath.join(_main_dir(main_path), "conf.d")
        plan[posixpath.join(conf_dir, name)] = None
    return plan


def dump_has_runtime(dump_text: str, entry: RuntimeEntry) -> bool:
    """Whether ``containerd config dump`` output offers entry's runtime as planned.

    True when ``runtimes.<handler>.runtime_type`` equals ``entry.runtime_type`` under the
    CRI plugin name of the dump's version (both names are tried when the dump has none),
    and, when the entry asks for pod annotations, each of them is listed.
    """
    data = _parse(dump_text, "containerd config dump")
    version = data.get("version")
    versions = [version] if version in SUPPORTED_VERSIONS else [2, 3]
    for candidate in versions:
        runtime = _runtimes(data, candidate).get(entry.handler)
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
    data = _parse(dump_text, "containerd config dump")
    by_version = {2: [CRI_V2], 3: [CRI_IMAGES_V3], 4: [CRI_IMAGES_V3]}
    plugins = by_version.get(data.get("version") or 0, [CRI_V2, CRI_IMAGES_V3])
    for plugin in plugins:
        config_path = _dig(data, ("plugins", plugin, "registry", "config_path"))
        if isinstance(config_path, str) and config_path:
            return [d for d in config_path.split(":") if d]
    return []
