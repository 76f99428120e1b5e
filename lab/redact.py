"""Credentials out of what the lab writes for other people to read (lab.diagnose's tarball,
last-error.log).

Line by line, whatever the format (containerd TOML of config versions 2, 3 and 4 and hosts.toml,
kubeconfig YAML, Docker's config.json, docker inspect, logs): the value of every key that names a
credential (registry auth's username, password, auth and identitytoken; tokens, secrets, client
keys, Authorization headers), Bearer and Basic credentials, the password of a URL and PEM private
keys become REDACTED. Each redaction is reported by file, line and key, never by value."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MARK = "REDACTED"
SECRET_KEY = (r"[\w.-]*?(?:password|passwd|secret|token|auth|authorization|username|client[-_]key[-_]data"
              r"|private[-_]?key|api[-_]?key|credentials?)")
SCHEME = r"(?:bearer|basic|token|digest|negotiate)\s+"
KEY_VALUE = re.compile(
    r"(?<![\w.-])[\"']?(?P<key>" + SECRET_KEY + r")[\"']?[ \t]*[:=][ \t]*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|\[[^\]]*\]|(?:" + SCHEME + r")?[^\s,;{}\[\]\"'][^\s,;}\]\"']*)",
    re.IGNORECASE)
FREE_CREDENTIAL = re.compile(r"\b(?P<key>bearer|basic)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<value>[^\s:/@\"']+:[^\s/@\"']+)@", re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN (?P<kind>[A-Z ]*)PRIVATE KEY-----.*?-----END (?P=kind)PRIVATE KEY-----", re.DOTALL)
NOT_SECRET = {"", '""', "''", "[]", "true", "false", "null", "none", "~", "<none>", "<nil>"}


@dataclass(frozen=True)
class Redaction:
    where: str          # the file, as named in the tarball
    line: int
    key: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.key}"


def _value_mask(value: str) -> str:
    """REDACTED in the value's own quoting, so the file still parses."""
    if value[0] in "\"'":
        return value[0] + MARK + value[0]
    if value.startswith("["):
        return f'["{MARK}"]'
    return MARK


def _line(line: str, found: list[str]) -> str:
    def key_value(match: re.Match) -> str:
        value = match.group("value")
        if value.strip("\"'[] ").lower() in NOT_SECRET or MARK in value:
            return match.group(0)
        found.append(match.group("key"))
        return match.group(0)[:match.start("value") - match.start()] + _value_mask(value)

    def free(match: re.Match) -> str:
        if match.group("value") == MARK:
            return match.group(0)
        found.append(f"{match.group('key').capitalize()} credential")
        return f"{match.group('key')} {MARK}"

    def url(match: re.Match) -> str:
        found.append("password in a URL")
        return match.group("scheme") + MARK + "@"

    line = KEY_VALUE.sub(key_value, line)
    line = FREE_CREDENTIAL.sub(free, line)
    return URL_PASSWORD.sub(url, line)


def text(content: str, where: str) -> tuple[str, list[Redaction]]:
    """`content` without credentials, and what was taken out of it."""
    redactions: list[Redaction] = []

    def private_key(match: re.Match) -> str:
        redactions.append(Redaction(where, content.count("\n", 0, match.start()) + 1, f"{match.group('kind')}PRIVATE KEY"))
        kind = match.group("kind")
        return f"-----BEGIN {kind}PRIVATE KEY-----\n{MARK}\n-----END {kind}PRIVATE KEY-----"

    content = PRIVATE_KEY.sub(private_key, content)
    lines = content.split("\n")
    for number, line in enumerate(lines, 1):
        found: list[str] = []
        lines[number - 1] = _line(line, found)
        redactions += [Redaction(where, number, key) for key in found]
    return "\n".join(lines), sorted(redactions, key=lambda r: r.line)


def tree(root: Path) -> list[Redaction]:
    """Every file under `root` rewritten without credentials (bytes that are not UTF-8 kept as they
    are); what was taken out, by path relative to `root`."""
    redactions: list[Redaction] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        original = path.read_bytes().decode("utf-8", errors="surrogateescape")
        cleaned, found = text(original, path.relative_to(root).as_posix())
        if found:
            path.write_bytes(cleaned.encode("utf-8", errors="surrogateescape"))
            redactions += found
    return redactions


def summary(redactions: list[Redaction]) -> list[str]:
    """One line per file: which keys were redacted where (never the values)."""
    by_file: dict[str, list[Redaction]] = {}
    for item in redactions:
        by_file.setdefault(item.where, []).append(item)
    return [f"redacted in {where}: " + ", ".join(f"{r.key} (line {r.line})" for r in items)
            for where, items in by_file.items()]
