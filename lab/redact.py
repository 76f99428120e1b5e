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
SECRET_KEY = (r"[\w.-]*?(?:passphrase|password|passwd|pass|pwd|secret|token|auth|authorization|username"
              r"|client[-_]key[-_]data|(?:private|api|access|secret|signing|encryption|session|account)[-_]?key"
              r"|credentials?)")
SCHEME = r"(?:bearer|basic|token|digest|negotiate)\s+"
KEY_VALUE = re.compile(
    r"(?<![\w.-])[\"']?(?P<key>" + SECRET_KEY + r")[\"']?[ \t]*[:=][ \t]*"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|\[[^\]]*\]|(?:" + SCHEME + r")?[^\s,;{}\[\]\"'][^\s,;}\]\"']*)",
    re.IGNORECASE)
FREE_CREDENTIAL = re.compile(r"\b(?P<key>bearer|basic)\s+(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# a password may hold '/' and '@' (base64 does): up to the last '@' of the word, but an image
# digest after '@' (host:5000/v2/x@sha256:…) is no password
URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<value>[^\s:/@\"']+:[^\s\"']+)@(?!sha256:)", re.IGNORECASE)
# a key whose END line is missing (a log cut short) is redacted to the end of the text
PRIVATE_KEY = re.compile(r"-----BEGIN (?P<kind>[A-Z ]*)PRIVATE KEY-----(?:.*?-----END (?P=kind)PRIVATE KEY-----|.*\Z)",
                         re.DOTALL)
# a credential whose value stands on the following lines: a YAML block (`token: |`) or a bare flag
# whose value is the next argument (kubectl describe's `Args:` list: `--password` then the value)
VALUE_BELOW = re.compile(r"(?P<indent>[ \t]*)(?:(?P<flag>-{1,2})(?P<fkey>" + SECRET_KEY + r")|[\"']?(?P<key>" + SECRET_KEY
                         + r")[\"']?[ \t]*:[ \t]*[|>]?[-+]?)[ \t]*", re.IGNORECASE)
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
    below: tuple[str, int, bool] | None = None  # (key, its indentation, a flag's one argument) above
    for number, line in enumerate(lines, 1):
        if below and line.strip():
            key, indent, one_line = below
            if one_line or len(line) - len(line.lstrip()) > indent:
                lines[number - 1] = line[:len(line) - len(line.lstrip())] + MARK
                redactions.append(Redaction(where, number, key))
                below = None if one_line else below
                continue
            below = None
        if heading := VALUE_BELOW.fullmatch(line):
            key = heading.group("fkey") or heading.group("key")
            below = (key, len(heading.group("indent")), heading.group("flag") is not None)
            continue
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
