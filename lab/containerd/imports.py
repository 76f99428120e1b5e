"""The main file's ``imports`` (drop-in mode): which conf.d directories it names, and the glob the
lab adds with a marker recording the original line and the runtimes needing it."""
from __future__ import annotations

import posixpath
import re
import tomllib

from lab.containerd.config import MARK, ConfigError, parse, toml_value

IMPORT_MARK_RE = re.compile(
    r"^# managed by wasm-lab: conf\.d import for runtimes \[(?P<hs>[^\]]*)\]; original: (?P<orig>.*)$",
    re.M,
)
_NO_ORIGINAL = "(no imports line)"
_HEADER_RE = re.compile(r"^\s*\[")


def main_dir(main_path: str) -> str:
    return posixpath.dirname(main_path) or "."


def import_dirs_of(data: dict, main_path: str) -> list[str]:
    """Directories named by ``<dir>/*.toml`` globs in imports, resolved like containerd does."""
    imports = data.get("imports") or []
    dirs = []
    for item in imports if isinstance(imports, list) else []:
        if isinstance(item, str) and posixpath.basename(item) == "*.toml":
            folder = posixpath.dirname(item)
            if not posixpath.isabs(folder):
                folder = posixpath.join(main_dir(main_path), folder)
            dirs.append(posixpath.normpath(folder))
    return dirs


def import_dirs(main_path: str, main_text: str) -> list[str]:
    """The conf.d directories the main config imports: read their files and pass them as drop_ins."""
    return import_dirs_of(parse(main_text, main_path), main_path)


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


def add_import(text: str, path: str, glob: str, handler: str) -> str:
    """Make the main file import glob, recording what it was so uninstall can restore it."""
    marker = IMPORT_MARK_RE.search(text)
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
        added = f"{_import_marker([handler], _NO_ORIGINAL)}\nimports = {toml_value([glob])}\n"
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
    replacement = f"imports = {toml_value(value + [glob])}"
    return (text[: line.start()] + _import_marker([handler], original) + "\n" + replacement
            + text[line.end() :])


def drop_import(text: str, handler: str) -> str:
    """Forget handler in the lab's import marker; restore the original line when none remain."""
    marker = IMPORT_MARK_RE.search(text)
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
