"""Local stand-ins for upstream services, on 127.0.0.1 only: Debian's distribution registry (the
CNCF `docker-registry`) and a plain HTTP file server laid out like GitHub release downloads and
GitHub's releases API (`github_release`)."""
import contextlib
import hashlib
import http.server
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
from pathlib import Path

import yaml

from tests.machine_limits import require


def release_tarball(member: str, content: bytes) -> bytes:
    """A release's .tar.gz as runwasi lays it out: one executable `./<member>`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"./{member}")
        info.size, info.mode = len(content), 0o755
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def wait_listening(port: int, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {seconds:.0f}s")


class Registry:
    """Debian's registry serving from `folder`, on 127.0.0.1:port; stop() ends it."""

    def __init__(self, folder: Path, port: int):
        require("docker-registry")
        binary = shutil.which("docker-registry")
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "config.yml"
        config.write_text(yaml.safe_dump({
            "version": 0.1, "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(folder / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{port}"}}))
        with open(folder / "log", "w") as log:
            self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        self.host = f"127.0.0.1:{port}"
        try:
            wait_listening(port, "docker-registry")
        except RuntimeError:
            self.stop()
            raise

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@contextlib.contextmanager
def registry(folder: Path, port: int):
    """A Registry for the length of a with-block; yields "127.0.0.1:port"."""
    running = Registry(folder, port)
    try:
        yield running.host
    finally:
        running.stop()


class FileServer:
    """http.server over a folder, on 127.0.0.1 (an ephemeral port); stop() and start() again."""

    def __init__(self, root: Path):
        self.root = root
        self.port = 0
        self.server = None

    def start(self):
        root = self.root

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def push(client, local_ref: str, registry_host: str, repository: str, tag: str) -> str:
    """Tag a local image into the stand-in registry, push it, and return the registry's digest."""
    image = client.images.get(local_ref)
    image.tag(f"{registry_host}/{repository}", tag)
    digest = ""
    for chunk in client.api.push(f"{registry_host}/{repository}", tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(f"push {repository}:{tag}: {chunk['error']}")
        digest = (chunk.get("aux") or {}).get("Digest", digest)
    if not digest:
        raise RuntimeError(f"push {repository}:{tag}: the registry reported no digest")
    # Forget the pushed names, so a pull by digest really goes to the registry.
    for ref in (f"{registry_host}/{repository}:{tag}", f"{registry_host}/{repository}@{digest}"):
        try:
            client.images.remove(ref)
        except Exception:
            pass
    return digest


def github_release(root: Path, owner: str, repo: str, tag: str, assets: dict[str, bytes], notes: str = "",
                   sums: str | None = "SHA256SUMS", digests: bool = True) -> None:
    """Lay out one release under a FileServer's `root` as GitHub serves it (a mirror maps
    https://github.com to URL/github and https://api.github.com to URL/api): each asset at
    github/OWNER/REPO/releases/download/TAG/NAME (a tag's %2F arrives decoded, as the file server
    serves it), a `sums` checksum file beside them in sha256sum's format (runwasi's SHA256SUMS;
    None: none, as wasmtime publishes none), and the release added first to
    api/repos/OWNER/REPO/releases, the REST API's listing: tag_name, draft, prerelease, body and
    per asset name, size and, with `digests`, the sha256 GitHub computes at upload."""
    folder = root / "github" / owner / repo / "releases" / "download" / urllib.parse.unquote(tag)
    folder.mkdir(parents=True, exist_ok=True)
    files = dict(assets)
    if sums:
        files[sums] = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in assets.items()).encode()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    listing = root / "api" / "repos" / owner / repo / "releases"
    listing.parent.mkdir(parents=True, exist_ok=True)
    releases = json.loads(listing.read_text()) if listing.exists() else []
    listed = [{"name": name, "size": len(data)} for name, data in files.items()]
    if digests:
        for item in listed:
            item["digest"] = f"sha256:{hashlib.sha256(files[item['name']]).hexdigest()}"
    releases.insert(0, {"tag_name": tag, "draft": False, "prerelease": False, "body": notes, "assets": listed})
    listing.write_text(json.dumps(releases))
