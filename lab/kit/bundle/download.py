"""The HTTP client of an import from a URL: the served index, the sha256 pinned or trusted on first
use, the bundle itself (same-origin redirects only, resumed with a Range, no more than the server
said it sends and leaving room on the disk)."""
from __future__ import annotations

import http.client
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from rich.markup import escape
from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

from lab.errors import InputError, LabError
from lab.kit import bundle_checks as checks
from lab.kit import trust
from lab.kit.bundle.layout import CHUNK, FREE_SPACE_RESERVE, SERVED, hash_with_progress, leading_sha256
from lab.kit.bundle_checks import Refused
from lab.proc import console

DOWNLOAD_SECONDS = 60
SHA256_FILE_MAX_BYTES = 4096


def is_url(source: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(source)
        parts.port  # noqa: B018 - parsing the port is what finds a bad one
    except ValueError as error:
        raise InputError(f"source: {source!r} is neither a bundle file nor an http(s) URL ({error})") from error
    return parts.scheme in ("http", "https")


def bundle_url(source: str) -> str:
    """A `kit.serve` address (no path) means its bundle; any other URL names a bundle itself."""
    parts = urllib.parse.urlsplit(source)
    return source.rstrip("/") + SERVED if parts.path in ("", "/") else source


def _origin(url: str) -> tuple:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects within the bundle's own origin (scheme, host, port) only: another one would be a
    server the user never named, answering for the one they did."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl) != _origin(req.full_url):
            raise Refused(f"{checks.shown(req.full_url)} redirects to {checks.shown(newurl)}, another origin")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects)
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


def _read_small(url: str, limit: int, what: str) -> bytes:
    """A small document from the bundle's server, at most `limit` bytes."""
    with _OPENER.open(url, timeout=DOWNLOAD_SECONDS) as response:
        data = response.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"{what} is larger than {limit} bytes")
    return data


def served_index(url: str) -> dict[str, dict] | None:
    """The index `kit.serve` publishes beside its bundle, to skip a download that would change
    nothing (it decides only that; what is imported is read from the verified archive)."""
    what = f"its served index {SERVED}.json"
    try:
        data = _read_small(url + ".json", checks.INDEX_MAX_BYTES, what)
    except NETWORK_ERRORS:
        return None
    try:
        return checks.check_index(checks.parse_json(data, checks.INDEX_MAX_BYTES, what), what)
    except Refused as refusal:
        said = str(refusal)
        raise Refused(said if said.startswith(what) else f"{what}: {said}")


def download(url: str, pin: str, work: Path) -> tuple[Path, str]:
    """The bundle at `url` in `work`, resumed from a partial download, verified; and its sha256.
    Files in `work` of other downloads (another bundle, an interrupted one) go first."""
    expected = pin if len(pin) == 64 else _trusted_sha256(url, pin)
    target, partial = work / f"{expected}.tar", work / f"{expected}.tar.partial"
    for other in work.iterdir():
        if other.name in (target.name, partial.name, "blobs"):
            continue
        if other.is_dir() and not other.is_symlink():
            shutil.rmtree(other)
        else:
            other.unlink()
    if not (target.exists() and hash_with_progress(target) == expected):
        _fetch(url, partial)
        actual = hash_with_progress(partial)
        if actual != expected:
            partial.unlink()
            raise Refused(f"sha256 {actual}, expected {expected}")
        os.replace(partial, target)
    trust.remember(url, expected)
    return target, expected


def _trusted_sha256(url: str, pin: str) -> str:
    """The server's sha256 for its bundle, if it begins with the pinned fingerprint; without a pin,
    if it is the one this machine trusted for `url` before (or, the first time, said and trusted)."""
    served = _remote_sha256(url)
    if pin:
        if not served.startswith(pin):
            raise Refused(f"its sha256 {trust.fingerprint(served)}… does not begin with the pinned "
                          f"{trust.shown_pin(pin)}")
        return served
    known = trust.trusted(url)
    if known is None:
        console.print(escape(f"kit.import: {url}: sha256 not pinned (no --sha256); trusting "
                             f"{trust.fingerprint(served)} on first use, recorded in {trust.records_path()}; "
                             "check it against the fingerprint kit.serve shows"), soft_wrap=True)
    elif known != served:
        raise Refused(f"its sha256 is now {trust.fingerprint(served)}…, but {trust.fingerprint(known)}… was "
                      f"trusted on first use ({trust.records_path()}); if the trainer shows the new fingerprint, "
                      "pass it with --sha256")
    return served


def _fetch(url: str, partial: Path) -> None:
    """Append the rest of the bundle to `partial` (Range from its size), no more than the server
    said it sends and leaving FREE_SPACE_RESERVE free; an interrupted transfer stays to resume."""
    offset = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = _OPENER.open(request, timeout=DOWNLOAD_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the partial file may already hold every byte: its sha256 says
            return
        raise LabError(f"kit bundle {url}: HTTP {error.code}; nothing was imported")
    except NETWORK_ERRORS as error:
        raise LabError(f"kit bundle {url}: cannot be fetched ({getattr(error, 'reason', error)}); nothing was imported")
    with response:
        resumed = response.status == 206
        if resumed and not re.match(rf"^bytes {offset}-", response.headers.get("Content-Range", "")):
            raise Refused(f"the server answered a range that does not start at byte {offset}")
        length = response.headers.get("Content-Length", "")
        if not re.fullmatch(r"\d{1,15}", length):
            raise Refused("the server does not say how long the bundle is (Content-Length)")
        left = int(length)
        free = shutil.disk_usage(partial.parent).free
        if left + FREE_SPACE_RESERVE > free:
            raise Refused(f"the bundle has {left / 1e9:.1f} GB more to download, and {partial.parent} has "
                          f"{free / 1e9:.1f} GB free (an import leaves {FREE_SPACE_RESERVE / 1e9:.1f} GB)")
        start = offset if resumed else 0
        with open(partial, "ab" if resumed else "wb") as out, \
                Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(),
                         console=console, transient=True) as progress:
            task = progress.add_task(f"kit.import: {url}", total=start + left, completed=start)
            try:
                while left:
                    block = response.read(min(CHUNK, left))
                    if not block:
                        break
                    out.write(block)
                    left -= len(block)
                    progress.advance(task, len(block))
            except NETWORK_ERRORS:
                pass
    if left:
        raise LabError(f"kit bundle {url}: the download stopped with {left} bytes to go; run the same command "
                       "again to resume it")


def _remote_sha256(url: str) -> str:
    try:
        data = _read_small(url + ".sha256", SHA256_FILE_MAX_BYTES, f"{url}.sha256")
    except NETWORK_ERRORS as error:
        raise LabError(f"sha256: {url}.sha256 cannot be fetched ({getattr(error, 'reason', error)}); "
                       "pass --sha256 HEX")
    return leading_sha256(data.decode(errors="replace"), f"{url}.sha256")

