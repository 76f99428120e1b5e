"""The lab's marked block in a main config file (version 2, and 3 without a conf.d glob): found,
appended, cut out again so the original text comes back byte for byte."""
from __future__ import annotations

import re

from lab.containerd.config import MARK, ConfigError

BEGIN_RE = re.compile(
    r'^# managed by wasm-lab: runtime "(?P<h>[^"]+)" \(begin(?P<eol>, newline added at end of file)?[^)]*\).*$',
    re.M,
)


def begin_marker(handler: str, newline_added: bool) -> str:
    extra = ", newline added at end of file" if newline_added else ""
    return f'# {MARK}: runtime "{handler}" (begin{extra}; wasm-lab removes this block on uninstall)'


def end_marker(handler: str) -> str:
    return f'# {MARK}: runtime "{handler}" (end)'


def find_block(text: str, handler: str, path: str) -> tuple[int, int, bool] | None:
    """(start, end, newline_added) of the lab's block for handler in text, or None."""
    for match in BEGIN_RE.finditer(text):
        if match.group("h") != handler:
            continue
        end_line = end_marker(handler)
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


def remove_block(text: str, span: tuple[int, int, bool]) -> str:
    start, end, newline_added = span
    if start >= 2 and text[start - 2 : start] == "\n\n":
        start -= 1  # the blank line the lab put before its block
    result = text[:start] + text[end:]
    if newline_added and end >= len(text) and result.endswith("\n"):
        result = result[:-1]
    return result


def append_block(text: str, block_body: str, handler: str) -> str:
    newline_added = bool(text) and not text.endswith("\n")
    sep = "\n\n" if newline_added else ("\n" if text else "")
    return text + sep + begin_marker(handler, newline_added) + "\n" + block_body + end_marker(handler) + "\n"
