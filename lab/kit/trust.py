"""Which bundle a laptop trusts (docs/kit.md, "Trust model").

A bundle's sha256 proves its bytes are the ones the digest names; it proves where they came from
only when the digest came another way than the bytes. `kit.serve` shows the digest's fingerprint
(its first 16 hex digits, 64 bits) for the trainer to put on screen; `--sha256` takes it (or the
whole digest), and what a server then offers must begin with it. Without a pin a URL's digest is
trusted on first use: said in one line, recorded in the state folder, and a different digest for
the same URL is refused later unless it is pinned."""
from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from lab.errors import InputError, LabError
from lab.state import state_root

FINGERPRINT_DIGITS = 16
PIN = re.compile(rf"^[0-9a-f]{{{FINGERPRINT_DIGITS},64}}$")
RECORDS = "kit-trust.json"
SCHEMA = 1


def fingerprint(digest: str) -> str:
    """The first 16 hex digits of a sha256 in groups of four, short enough to read out to a room."""
    return "-".join(digest[i:i + 4] for i in range(0, FINGERPRINT_DIGITS, 4))


def parse_pin(value: object, field: str = "sha256") -> str:
    """A whole sha256 or a fingerprint (16 or more of its first hex digits, '-' or spaces between
    groups allowed), as lower-case hex; anything else is bad input."""
    text = re.sub(r"[-\s]", "", value).lower() if isinstance(value, str) else ""
    if not PIN.match(text):
        raise InputError(f"{field}: {value!r} is neither a sha256 (64 hex digits) nor a fingerprint "
                         f"({FINGERPRINT_DIGITS} or more of its first hex digits, e.g. 3f9a-1c22-8b0e-77d1)")
    return text


def shown_pin(pin: str) -> str:
    """A pin as its user would recognise it: the whole sha256, or the fingerprint's groups of four."""
    return pin if len(pin) == 64 else "-".join(pin[i:i + 4] for i in range(0, len(pin), 4))


def records_path() -> Path:
    return state_root() / RECORDS


def _load() -> dict:
    path = records_path()
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        return {"schema": SCHEMA, "bundles": {}}
    except (OSError, ValueError) as error:
        raise LabError(f"kit trust: {path} cannot be read ({error.__class__.__name__}); move it away to trust "
                       "bundles afresh")
    if not (isinstance(records, dict) and records.get("schema") == SCHEMA and isinstance(records.get("bundles"), dict)):
        raise LabError(f"kit trust: {path} is not a wasm-lab trust file; move it away to trust bundles afresh")
    return records


def trusted(url: str) -> str | None:
    """The sha256 this machine trusted for `url` before, if any."""
    record = _load()["bundles"].get(url)
    return record.get("sha256") if isinstance(record, dict) else None


def remember(url: str, digest: str) -> None:
    """Record `digest` as the bundle trusted for `url` (0600, replaced whole)."""
    records = _load()
    records["bundles"][url] = {"sha256": digest, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = records_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{RECORDS}.")
    with os.fdopen(fd, "w") as out:
        json.dump(records, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)
