"""lab.pins against local stand-ins laid out like upstream (tests/pins_upstream.py on
tests/e2e/standins.py): GitHub's releases listing and release downloads, reached through the lab's
`mirrors:` setting. Every pin of the catalog is published there with a lab.lock holding the
stand-ins' own sha256s, so all are current; each test then makes upstream move or lie."""
import json

import pytest

from lab import artifacts
from lab.artifacts import Resolver
from lab.artifacts import plan as artifact_plan
from lab.lock import LockFile
from lab.spec import load as load_spec
from tests.e2e import standins
from tests.pins_upstream import NEWER, STALE, Upstream


@pytest.fixture
def stand_in(tmp_path):
    made = Upstream(tmp_path)
    yield made
    made.server.stop()


def test_every_pin_is_current_when_upstream_confirms_it(stand_in):
    stand_in.publish_current()
    rows = stand_in.rows()
    assert {key: row["status"] for key, row in rows.items() if row["status"] != "current"} == {}
    assert "kindest/node v1.37 (kind v0.33.0)" in rows and "wasmtime-release@aarch64" in rows
    done = stand_in.invoke("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_stale_pin_is_reported_and_write_moves_lab_lock_to_the_confirmed_release(stand_in, tmp_path, monkeypatch):
    """The issue's "done when": --check names the one stale pin (exit 1); --write writes upstream's
    own SHA256SUMS line into lab.lock, shows the diff, and the lab then fetches that release."""
    stand_in.publish_current()
    newer = stand_in.publish("containerd-shim-wasmtime/", NEWER)
    lock = LockFile.load(stand_in.lock_path)   # the aarch64 pin moved already: only x86_64 is stale
    aarch64 = next(p for p in stand_in.pins if p.key == "shim-wasmtime@aarch64")
    lock.record(aarch64.key, {"origin": "release", "source": aarch64.at(NEWER)[1], "version": NEWER,
                              "sha256": newer[aarch64.asset]})
    lock.save()

    checked = stand_in.invoke("--check", "--json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert [(r["pin"], r["status"]) for r in report["rows"] if r["status"] != "current"] == [(STALE, "behind")]
    assert f"1 pin(s) not current: {STALE} behind" in checked.stderr
    assert stand_in.lock()[STALE]["version"] == "v0.6.1", "--check wrote lab.lock"

    written = stand_in.invoke("--write")
    assert written.returncode == 0, written.stdout + written.stderr
    stale = next(p for p in stand_in.pins if p.key == STALE)
    entry = stand_in.lock()[STALE]
    assert entry["version"] == NEWER and entry["sha256"] == newer[stale.asset] and entry["source"] == stale.at(NEWER)[1]
    assert f"+    sha256: {newer[stale.asset]}" in written.stdout and f"wrote 1 pin(s) into {stand_in.lock_path}" \
        in written.stdout
    assert f"{STALE} " in written.stdout and "confirmed by upstream; written into lab.lock" in written.stdout
    assert stand_in.invoke("--check").returncode == 0

    monkeypatch.setenv("WASM_LAB_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    resolver = Resolver("false", stand_in.spec().mirrors, LockFile.load(stand_in.lock_path), "x86_64")
    fetched = resolver.get("shim-wasmtime")
    assert fetched.path.read_bytes() == f"{STALE} {NEWER}".encode()
    assert resolver.engine("shim-wasmtime") == {"name": "wasmtime", "version": f"of runwasi {NEWER}"}
    planned = artifact_plan.plan(load_spec(str(stand_in.config), {"runtimes": ["wasmtime"], "offline": "false"}),
                                 ("wasmtime",), (), None, ("x86_64",))
    assert [r["source"] for r in planned if r["artifact"] == "shim-wasmtime"] == [
        stand_in.spec().mirrors.url(stale.at(NEWER)[1])]


def test_a_newer_release_without_a_checksum_is_left_and_said(stand_in):
    stand_in.publish_current()
    stand_in.publish("", "v48.0.12", sums=None, digests=False)
    before = stand_in.lock_path.read_text()
    done = stand_in.invoke("--write")
    assert done.returncode == 1
    assert "left as it is: wasmtime-release@x86_64: v48.0.12: no checksum published for " \
           "wasmtime-v48.0.12-x86_64-linux.tar.xz; left as it is" in done.stdout
    assert stand_in.lock_path.read_text() == before and f"{stand_in.lock_path} unchanged" in done.stdout


def test_wasmtimes_newer_release_of_its_line_is_confirmed_by_githubs_asset_digest(stand_in):
    """wasmtime publishes no checksum file: GitHub's digest of the asset confirms it. The catalog
    keeps wasmtime to the kit's major line (`line: major`), so a newer major is not proposed."""
    stand_in.publish_current()
    stand_in.publish("", "v51.0.1", sums=None)
    assert stand_in.rows()["wasmtime-release@x86_64"]["status"] == "current"
    newer = stand_in.publish("", "v48.0.12", sums=None)
    row = stand_in.rows()["wasmtime-release@x86_64"]
    assert row["status"] == "behind" and row["proposal"]["version"] == "v48.0.12"
    assert row["proposal"]["sha256"] == newer["wasmtime-v48.0.12-x86_64-linux.tar.xz"]


def tamper(stand_in, tag: str, asset: str, digests: bool) -> None:
    """Rewrite the asset's line of a published SHA256SUMS; without `digests`, drop GitHub's digests too."""
    sums = stand_in.root / "github/containerd/runwasi/releases/download" / tag / "SHA256SUMS"
    sums.write_text("".join(("e" * 64 + "  " + asset + "\n") if line.endswith(f"  {asset}") else line + "\n"
                            for line in sums.read_text().splitlines()))
    listing = stand_in.root / "api/repos/containerd/runwasi/releases"
    releases = json.loads(listing.read_text())
    for release in releases:
        for item in release["assets"]:
            item.update({} if digests else {"digest": None})
    listing.write_text(json.dumps(releases))


@pytest.mark.parametrize("digests", [True, False], ids=["sums-disagree-with-githubs-digest", "sums-alone"])
def test_a_tampered_sha256sums_is_a_mismatch_alarm_and_nothing_is_written(stand_in, digests):
    stand_in.publish_current()
    stale = next(p for p in stand_in.pins if p.key == STALE)
    tamper(stand_in, "containerd-shim-wasmtime/v0.6.1", stale.asset, digests)
    before = stand_in.lock()
    rows = stand_in.rows()
    assert rows[STALE]["status"] == "mismatch" and rows[STALE]["proposal"] is None
    assert ("upstream's checksums disagree" if digests else f"is {'e' * 64} upstream") in rows[STALE]["note"]
    done = stand_in.invoke("--write")
    alarms = [line for line in done.stdout.splitlines() if line.startswith("ALARM")]
    assert done.returncode == 1 and len(alarms) == 1 and STALE in alarms[0]
    assert stand_in.lock() == before


def test_a_newer_release_whose_checksums_disagree_is_a_mismatch_not_a_proposal(stand_in):
    stand_in.publish_current()
    stale = next(p for p in stand_in.pins if p.key == STALE)
    stand_in.publish("containerd-shim-wasmtime/", NEWER, tamper=stale.at(NEWER)[0])
    row = stand_in.rows()[STALE]
    assert row["status"] == "mismatch" and row["proposal"] is None and row["note"].startswith(
        f"containerd-shim-wasmtime/{NEWER}: upstream's checksums disagree")


def test_upstreams_checksum_differing_from_the_pin_is_a_one_line_alarm(stand_in):
    stand_in.publish_current()
    lock = LockFile.load(stand_in.lock_path)
    lock.entries[STALE]["sha256"] = "d" * 64
    lock.changed = True
    lock.save()
    rows = stand_in.rows()
    assert rows[STALE]["status"] == "mismatch" and rows[STALE]["note"].startswith("MISMATCH:")
    done = stand_in.invoke("--check")
    alarms = [line for line in done.stdout.splitlines() if line.startswith("ALARM")]
    assert done.returncode == 1 and len(alarms) == 1 and STALE in alarms[0] and "d" * 64 in alarms[0]


def test_a_node_image_whose_digest_kinds_notes_do_not_give_is_a_mismatch(stand_in):
    table = artifacts.catalog()["kind-node-images"]
    other = dict(table["v0.33.0"], **{"v1.34": table["v0.33.0"]["v1.34"].replace("@sha256:44", "@sha256:55")})
    stand_in.publish_current(**{"v0.33.0": other})
    standins.github_release(stand_in.root, "kubernetes-sigs", "kind", "v0.34.0", {}, sums=None)
    rows = stand_in.rows()
    assert rows["kindest/node v1.34 (kind v0.33.0)"]["status"] == "mismatch"
    assert rows["kindest/node v1.35 (kind v0.33.0)"]["status"] == "current"
    assert rows["kind release (kind-node-images)"]["status"] == "behind"


def test_neither_or_both_modes_are_bad_input(stand_in):
    for args in ((), ("--check", "--write")):
        done = stand_in.invoke(*args)
        assert done.returncode == 2 and done.stderr.strip() == \
            "error: pins: give one of --check (report) or --write (report, then update lab.lock)"


def test_a_pin_no_second_source_names_is_unconfirmed(stand_in):
    stand_in.publish_current(**{"v0.32.0": {}})
    listing = stand_in.root / "api/repos/bytecodealliance/wasmtime/releases"
    releases = json.loads(listing.read_text())
    for release in releases:
        for asset in release["assets"]:
            asset.pop("digest")
    listing.write_text(json.dumps(releases))
    lock = LockFile.load(stand_in.lock_path)
    del lock.entries["wasmtime-release@aarch64"]   # the catalog pins none: nothing pinned, nothing confirmed
    lock.changed = True
    lock.save()
    rows = stand_in.rows()
    assert rows["wasmtime-release@aarch64"]["status"] == "unconfirmed" and rows["wasmtime-release@aarch64"][
        "note"] == "nothing pinned; no checksum published for wasmtime-v48.0.11-aarch64-linux.tar.xz"
    assert rows["wasmtime-release@aarch64"]["proposal"] is None
    assert rows["wasmtime-release@x86_64"]["status"] == "unconfirmed"
    assert rows["wasmtime-release@x86_64"]["note"] == "no checksum published for wasmtime-v48.0.11-x86_64-linux.tar.xz"
    assert rows["kindest/node v1.33 (kind v0.32.0)"]["status"] == "unconfirmed"
    assert rows["kindest/node v1.37 (kind v0.33.0)"]["status"] == "current"
    assert stand_in.invoke("--check").returncode == 1


def test_a_release_the_catalog_pins_nothing_for_gets_the_checksum_upstream_publishes(stand_in):
    """The catalog has no sha256 of wasmtime's tarballs; GitHub's asset digest of that very release
    is one, so --write pins it at the catalog's version."""
    stand_in.publish_current()
    pin = next(p for p in stand_in.pins if p.key == "wasmtime-release@x86_64")
    published = stand_in.lock()[pin.key]["sha256"]
    lock = LockFile.load(stand_in.lock_path)
    del lock.entries[pin.key]
    lock.changed = True
    lock.save()
    row = stand_in.rows()[pin.key]
    assert (row["status"], row["note"]) == ("behind", "nothing pinned; upstream confirms one")
    assert stand_in.invoke("--write").returncode == 0
    assert stand_in.lock()[pin.key] == {"origin": "release", "source": pin.url, "version": pin.version,
                                        "sha256": published, "size": row["proposal"]["size"]}
