"""What a mirror answers lab.pins is untrusted input: too long, not text, not JSON, JSON of another
shape, names and versions that only start like one, a server that does not speak HTTP, or no
server at all. Each makes its rows `unreachable` (or is left out), nothing crashes, and --write
writes nothing it did not verify. The stand-ins of tests/unit/test_pins.py, through the mirrors."""
import json
import socket
import threading

import pytest

from lab import pins, upstream
from tests.pins_upstream import NEWER, STALE, Upstream

LISTING = "api/repos/containerd/runwasi/releases"


@pytest.fixture
def stand_in(tmp_path):
    made = Upstream(tmp_path)
    yield made
    made.server.stop()


def runwasi_rows(rows: dict[str, dict]) -> dict[str, str]:
    return {key: row["status"] for key, row in rows.items() if key.startswith("shim-")}


def test_an_oversized_listing_is_not_read(stand_in):
    stand_in.publish_current()
    (stand_in.root / LISTING).write_bytes(b"[" + b" " * upstream.LISTING_BYTES + b"]")
    rows = stand_in.rows()
    assert set(runwasi_rows(rows).values()) == {"unreachable"}
    assert f"answered more than {upstream.LISTING_BYTES} bytes" in rows[STALE]["note"]
    assert rows["wasmtime-release@x86_64"]["status"] == "current"   # one source down is that source's rows


def test_an_oversized_checksum_file_is_not_read(stand_in):
    stand_in.publish_current()
    sums = stand_in.root / "github/containerd/runwasi/releases/download/containerd-shim-wasmtime/v0.6.1/SHA256SUMS"
    sums.write_bytes(sums.read_bytes() + b"#" * upstream.CHECKSUMS_BYTES)
    assert stand_in.rows()[STALE]["status"] == "unreachable"


@pytest.mark.parametrize("answer, why", [
    (b"\xff\xfe not text", "UnicodeDecodeError"),
    (b"<html>rate limited</html>", "JSONDecodeError"),
    (b'{"message": "Not Found"}', "ValueError"),
    (b"[" * 100_000 + b"]" * 100_000, "RecursionError"),
], ids=["not-utf8", "not-json", "not-a-list", "nested-too-deep"])
def test_a_garbage_listing_makes_its_rows_unreachable_in_one_line(stand_in, answer, why):
    stand_in.publish_current()
    (stand_in.root / LISTING).write_bytes(answer)
    row = stand_in.rows()[STALE]
    assert row["status"] == "unreachable" and row["note"].endswith(f"is not a releases listing ({why})")
    done = stand_in.invoke("--check")
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_releases_only_shaped_like_one_are_left_out(stand_in):
    """Tags and versions that only start like a release, drafts, prereleases, digests that are not
    a sha256 and sizes that are not numbers give no newer release and no proposal."""
    stand_in.publish_current()
    releases = json.loads((stand_in.root / LISTING).read_text())
    current = next(r for r in releases if r["tag_name"] == "containerd-shim-wasmtime/v0.6.1")
    forged = [
        {**current, "tag_name": "containerd-shim-wasmtime/v9.9.9\n"},
        {**current, "tag_name": "containerd-shim-wasmtime/v9.9.9/../../x"},
        {**current, "tag_name": "containerd-shim-wasmtime/v99999.0.0"},
        {**current, "tag_name": "containerd-shim-wasmtime/v8.8.8", "draft": True},
        {**current, "tag_name": "containerd-shim-wasmtime/v7.7.7", "prerelease": True},
        {**current, "tag_name": "containerd-shim-wasmtime/v6.6.6", "draft": "false"},
        {**current, "tag_name": ["containerd-shim-wasmtime/v5.5.5"]},
        "containerd-shim-wasmtime/v4.4.4", None, 7,
        {**current, "tag_name": "containerd-shim-wasmtime/" + NEWER, "assets": [
            {"name": "../containerd-shim-wasmtime-x86_64-linux-musl.tar.gz", "digest": "sha256:" + "a" * 64},
            {"name": "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz", "digest": "sha256:" + "A" * 64},
            {"name": "containerd-shim-wasmtime-aarch64-linux-musl.tar.gz", "digest": "sha256:" + "b" * 63 + "\n"},
            {"name": "containerd-shim-wasmtime-aarch64-linux-musl.tar.gz", "size": "12"}, "x", None]},
    ]
    (stand_in.root / LISTING).write_text(json.dumps(forged + releases))
    rows = stand_in.rows()
    for key in ("shim-wasmtime@x86_64", "shim-wasmtime@aarch64"):
        assert rows[key]["status"] == "behind" and rows[key]["upstream"] == f"{NEWER} -", rows[key]
        assert rows[key]["proposal"] is None
    before = stand_in.lock_path.read_text()
    assert stand_in.invoke("--write").returncode == 1 and stand_in.lock_path.read_text() == before


def test_checksum_lines_count_only_whole(stand_in):
    sums = pins.parse_checksums(
        f"{'a' * 64}  good.tar.gz\n{'b' * 64}  good.tar.gz\n{'c' * 64}  once.tar.gz\n{'d' * 65}  long.tar.gz\n"
        f"{'e' * 64}  spaced name.tar.gz\n{'F' * 64} *./binary.tar.gz\n{'0' * 64}  x.tar.gz trailing\n")
    assert sums == {"good.tar.gz": "", "once.tar.gz": "c" * 64, "binary.tar.gz": "f" * 64}


@pytest.mark.parametrize("change", [
    {"source": "http://127.0.0.1:1/containerd/runwasi/releases/download/v0.6.2/x.tar.gz"},
    {"source": "https://github.com/containerd/runwasi/releases/download/a/b/c.tar.gz"},
    {"version": "v0.6.0"}, {"version": "v0.6.2\n"}, {"sha256": "A" * 64}, {"sha256": "a" * 63},
    {"size": True}, {"size": -1}, {"size": "139"}, {"member_sha256": "a" * 64}, {"origin": "registry"},
], ids=lambda change: next(iter(change)) + "=" + repr(next(iter(change.values())))[:20])
def test_write_verifies_each_proposal_again(change):
    entry = {"origin": "release", "version": NEWER, "sha256": "a" * 64, "size": 139,
             "source": "https://github.com/containerd/runwasi/releases/download/containerd-shim-wasmtime%2Fv0.6.2/"
                       "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz"}
    assert upstream.verified(entry, "v0.6.1")
    assert not upstream.verified({**entry, **change}, "v0.6.1")


def test_a_mirror_that_does_not_speak_http_is_unreachable(stand_in):
    stand_in.publish_current()
    listener = socket.create_server(("127.0.0.1", 0))

    def answer_garbage():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"\x00garbage, not HTTP\r\n\r\n")

    threading.Thread(target=answer_garbage, daemon=True).start()
    port = listener.getsockname()[1]
    stand_in.config.write_text(stand_in.config.read_text().replace(f"{stand_in.server.url}/api",
                                                                   f"http://127.0.0.1:{port}/api"))
    try:
        rows = stand_in.rows()
    finally:
        listener.close()
    assert {row["status"] for row in rows.values()} == {"unreachable"}
    assert "could not be fetched" in rows[STALE]["note"]


def test_an_unreachable_mirror_is_one_row_each_and_exit_1_not_a_crash(stand_in):
    stand_in.publish_current()
    stand_in.server.stop()
    done = stand_in.invoke("--check", "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert len(rows) == 7 and {row["status"] for row in rows} == {"unreachable"}
    assert all("could not be fetched" in row["note"] for row in rows)
    written = stand_in.invoke("--write")
    assert written.returncode == 1 and f"{stand_in.lock_path} unchanged" in written.stdout


def test_write_refuses_a_proposal_it_cannot_verify(stand_in):
    """--write checks each proposal again before lab.lock: one naming a mirror's URL, or a release
    below the origin's floor, is not written (whatever made the row)."""
    stand_in.publish_current()
    before = stand_in.lock_path.read_text()
    entry = {"origin": "release", "version": "v0.6.0", "sha256": "a" * 64,
             "source": "https://github.com/containerd/runwasi/releases/download/containerd-shim-wasmtime%2Fv0.6.0/"
                       "containerd-shim-wasmtime-x86_64-linux-musl.tar.gz"}
    rows = [{"pin": STALE, "status": "behind", "note": "", "floor": "v0.6.1", "proposal": entry},
            {"pin": "shim-wasmtime@aarch64", "status": "behind", "note": "", "floor": "v0.6.1",
             "proposal": {**entry, "version": NEWER, "source": stand_in.server.url + "/x.tar.gz"}}]
    written, left, diff = upstream.write(stand_in.spec(), rows)
    assert written == [] and diff == "" and stand_in.lock_path.read_text() == before
    assert left == [f"{STALE}: ", "shim-wasmtime@aarch64: "]
