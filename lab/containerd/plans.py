"""The install and uninstall plans: ``{path: new text}`` for the main file and the lab's drop-in."""
from __future__ import annotations

import posixpath
import tomllib

from lab.containerd.blocks import append_block, begin_marker, end_marker, find_block, remove_block
from lab.containerd.config import ConfigError, parse, runtimes_of, systemd_cgroup, version_of
from lab.containerd.entry import (
    HANDLER_RE,
    RuntimeEntry,
    check_foreign,
    check_result,
    desired_options,
    drop_in_text,
    render_table,
)
from lab.containerd.imports import IMPORT_MARK_RE, add_import, drop_import, import_dirs_of, main_dir

DROP_IN_PREFIX = "wasm-lab-"


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
    data = parse(main_text, main_path)
    version = version_of(data, main_path)
    for path, text in drop_ins.items():
        parse(text, path)
    options = desired_options(entry, systemd_cgroup(main_text, drop_ins))

    span = find_block(main_text, entry.handler, main_path)
    has_import_marker = IMPORT_MARK_RE.search(main_text) is not None
    import_dirs = import_dirs_of(data, main_path)

    if span is not None or not _use_drop_in(version, import_dirs, has_import_marker):
        return _plan_in_place(main_path, main_text, data, version, entry, options, span)

    # Drop-in mode: one file per runtime in the imported conf.d directory.
    conf_dir = import_dirs[0] if import_dirs else posixpath.join(main_dir(main_path), "conf.d")
    own_path = posixpath.join(conf_dir, f"{DROP_IN_PREFIX}{entry.handler}.toml")
    foreign = runtimes_of(data, version).get(entry.handler)
    if foreign is not None:
        check_foreign(foreign, entry, options, main_path)
        return {}
    for path in sorted(drop_ins):
        if path == own_path:
            continue
        runtime = runtimes_of(parse(drop_ins[path], path), version).get(entry.handler)
        if runtime is not None:
            check_foreign(runtime, entry, options, path)
            return {}

    plan: dict[str, str] = {}
    wanted = drop_in_text(version, entry, options)
    if drop_ins.get(own_path) != wanted:
        check_result(wanted, own_path, version, entry, options)
        plan[own_path] = wanted
    if not import_dirs or has_import_marker:
        glob = posixpath.join(conf_dir, "*.toml")
        new_main = add_import(main_text, main_path, glob, entry.handler)
        if new_main != main_text:
            try:
                tomllib.loads(new_main)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{main_path}: adding the conf.d import would give invalid TOML ({exc})") from None
            plan[main_path] = new_main
    return plan


def _plan_in_place(main_path, main_text, data, version, entry, options, span) -> dict[str, str]:
    body = render_table(version, entry, options)
    if span is None:
        foreign = runtimes_of(data, version).get(entry.handler)
        if foreign is not None:
            check_foreign(foreign, entry, options, main_path)
            return {}
        new_text = append_block(main_text, body, entry.handler)
    else:
        start, end, newline_added = span
        block = begin_marker(entry.handler, newline_added) + "\n" + body + end_marker(entry.handler) + "\n"
        current = main_text[start:end]
        if current == block or (end == len(main_text) and current + "\n" == block):
            return {}
        new_text = main_text[:start] + block + main_text[end:]
    check_result(new_text, main_path, version, entry, options)
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
    if not isinstance(handler, str) or not HANDLER_RE.fullmatch(handler):
        raise ConfigError(f"runtime handler {handler!r} is not a DNS label")
    data = parse(main_text, main_path)
    version = version_of(data, main_path)
    plan: dict[str, str | None] = {}

    new_main = main_text
    span = find_block(main_text, handler, main_path)
    if span is not None:
        new_main = remove_block(new_main, span)
    new_main = drop_import(new_main, handler)
    if new_main != main_text:
        plan[main_path] = new_main

    has_import_marker = IMPORT_MARK_RE.search(main_text) is not None
    import_dirs = import_dirs_of(data, main_path)
    name = f"{DROP_IN_PREFIX}{handler}.toml"
    if drop_ins is not None:
        for path in sorted(drop_ins):
            if posixpath.basename(path) == name and posixpath.normpath(posixpath.dirname(path)) in import_dirs:
                plan[path] = None
    elif _use_drop_in(version, import_dirs, has_import_marker):
        conf_dir = import_dirs[0] if import_dirs else posixpath.join(main_dir(main_path), "conf.d")
        plan[posixpath.join(conf_dir, name)] = None
    return plan
