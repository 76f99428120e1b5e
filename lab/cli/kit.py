"""invoke kit.build / kit.status / kit.clean / kit.export / kit.import / kit.serve"""
import hashlib
import json
import socket
from pathlib import Path

from invoke import Collection, task
from rich import box
from rich.table import Column, Table

from lab import images, kit
from lab.artifacts import kit_sets
from lab.cli.common import fail_on_errors, human_bytes, print_table, stdout
from lab.errors import InputError
from lab.kit import trust
from lab.kit.bundle.export import export as export_bundle
from lab.kit.bundle.importer import import_bundle
from lab.kit.bundle.layout import sidecar
from lab.kit.bundle.serve import server as bundle_server
from lab.kit.bundle_checks import PURPOSES
from lab.kit.store import KitStore


@task(iterable=["only"], help={
    "only": "build only this artifact (and what it needs); may be repeated",
    "force": "rebuild even when the cached result is current",
})
def build(c, only=None, force=False):
    """Build the offline kit's artifacts from package registries (cached; unchanged runs take seconds)."""
    with fail_on_errors():
        rows = kit.build(only or None, force=force)
    table = Table("artifact", "version", "result", "seconds", title="kit.build")
    for row in rows:
        table.add_row(row["name"], row["version"], row["action"], f"{row['seconds']:.0f}")
    print_table(table)


@task(help={"json": "print machine-readable JSON instead of a table"})
def status(c, json_=False):
    """Show each kit artifact: version, origin, built or not, size, build time."""
    with fail_on_errors():
        rows = kit.status()
    if json_:
        print(json.dumps(rows, indent=2))
        return
    # what each artifact is made from needs room: on a narrow terminal it is left to --json
    with_origin = stdout.width >= 140
    table = Table(Column("artifact", no_wrap=True), "kind", Column("version", overflow="fold", max_width=16), "state", "size",
                  Column("took", justify="right"), *(["origin"] if with_origin else []), title="kit.status",
                  caption=None if with_origin else "what each is built from: kit.status --json", box=box.SIMPLE)
    for row in rows:
        seconds = row["build_seconds"]
        took = "" if seconds is None else f"{seconds:.0f}s" + (" (imported)" if row["imported_from"] else "")
        table.add_row(row["name"], row["kind"], row["version"], row["state"], human_bytes(row["size_bytes"]),
                      took, *([row["origin"]] if with_origin else []))
    print_table(table)


@task(help={"caches": "also remove build caches (Go/cargo caches, debootstrap trees)"})
def clean(c, caches=False):
    """Remove the kit's images, files and manifest."""
    with fail_on_errors():
        for item in kit.clean(caches=caches):
            print(f"removed {item}")


def _bundle_names(only, provider, purpose) -> list[str]:
    if provider not in ("kind", "minikube"):
        raise InputError(f"provider: {provider!r} is not allowed; choose one of: kind, minikube")
    if purpose not in PURPOSES:
        raise InputError(f"for: {purpose!r} is not allowed; choose one of: {', '.join(PURPOSES)}")
    default = kit_sets.workshop_artifacts(provider) if purpose == "workshop" else kit_sets.kit_artifacts(provider)
    names = list(dict.fromkeys(only or default))
    known = [planned.recipe.name for planned in kit.plan()] if purpose == "build" else sorted(kit_sets.run_artifacts())
    for name in names:
        if name not in known:
            what = "a kit artifact a lab runs from" if purpose == "workshop" else "a kit artifact"
            raise InputError(f"only: {name!r} is not {what}; choose from: {', '.join(known)}")
    return names


BUNDLE_HELP = {
    "only": "put only this artifact in the bundle; may be repeated (default: what lab.up with every "
            "runtime and lab.bench use offline)",
    "provider": "kind (default) or minikube: whose node image the default bundle holds",
}
FOR_HELP = ("workshop: what a lab runs from and the workload images, built here (no builders); "
            "build: the kit with its builders, to build on")


@task(iterable=["only"], help={"file": "the bundle to write (FILE.sha256 is written beside it)", **BUNDLE_HELP,
                               "for": FOR_HELP + " (default)"})
def export(c, file, only=None, provider="kind", for_="build"):
    """Write built kit artifacts into one checksummed archive for other machines (kit.import, kit.serve)."""
    with fail_on_errors():
        done = export_bundle(Path(file), _bundle_names(only, provider, for_), purpose=for_)
    workloads = f", {len(done['workloads'])} workload images" if done["workloads"] else ""
    stdout.print(f"{done['path']}: {human_bytes(done['size'])}, {len(done['artifacts'])} artifacts "
                 f"({', '.join(done['artifacts'])}){workloads}; sha256 {done['sha256']} (fingerprint "
                 f"{trust.fingerprint(done['sha256'])})", soft_wrap=True, markup=False)


@task(name="import", help={
    "source": "a bundle file, its URL, or a kit.serve address such as http://192.168.1.10:8780",
    "sha256": "the bundle's sha256, or the fingerprint kit.serve and kit.export show (its first 16 hex digits); "
              "default: FILE.sha256 for a file, and for a URL its server's, trusted on first use",
})
def import_(c, source, sha256=""):
    """Import a kit bundle: every checksum verified before anything is loaded; an interrupted import resumes."""
    with fail_on_errors():
        rows = import_bundle(source, sha256)
    table = Table("artifact", "version", "result", title="kit.import")
    for row in rows:
        table.add_row(row["name"], row["version"], row["action"])
    print_table(table)


def _tcp_port(value) -> int:
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise InputError(f"port: {text!r} is not a TCP port; give a whole number from 1 to 65535")
    return int(text)


@task(iterable=["only"], help={
    "bundle_file": "serve this bundle (default: export the kit into the kit folder's exports/ first)",
    "address": "address to listen on (default 0.0.0.0: every interface, for a room of laptops)",
    "port": "port to listen on (default 8780)", **BUNDLE_HELP, "for": FOR_HELP + " (default: workshop)",
})
def serve(c, bundle_file="", address="0.0.0.0", port="8780", only=None, provider="kind", for_="workshop"):
    """Serve the kit over HTTP so other machines run lab.up --kit-from http://THIS-HOST:PORT."""
    with fail_on_errors():
        port = _tcp_port(port)  # text: a typed default would make invoke's parser fail with a trace
        path = Path(bundle_file) if bundle_file else _exported(_bundle_names(only, provider, for_), for_)
        httpd = bundle_server(path, address, port)
    host = socket.gethostname() if address in ("0.0.0.0", "") else address
    fingerprint = trust.fingerprint(httpd.sha256)
    stdout.print(f"kit.serve: {path} on http://{host}:{port}, sha256 {httpd.sha256} (Ctrl-C stops)",
                 soft_wrap=True, markup=False)
    stdout.print(f"kit.serve: fingerprint {fingerprint}: show it to the room; on each laptop: "
                 f"invoke lab.up --kit-from http://{host}:{port} --kit-sha256 {fingerprint}", soft_wrap=True,
                 markup=False)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


def _exported(names: list[str], purpose: str) -> Path:
    """The kit's bundle of `names` in its exports/ folder, written again only when an artifact
    changed (or, for a workshop, what the workload images are built from)."""
    store = KitStore()
    keys = ",".join([f"for={purpose}"] + [f"{name}={(store.entry(name) or {}).get('key', '')}" for name in names])
    if purpose == "workshop":
        bases = kit_sets.kit_base_identities()
        keys += "".join(f",{target}={images.inputs_digest(target, {a: bases[a] for a in images.NEEDS[target]})}"
                        for target in images.IMAGE_TARGETS + images.JOB_IMAGES)
    path = store.root / "exports" / f"kit-{hashlib.sha256(keys.encode()).hexdigest()[:16]}.tar"
    if not (path.exists() and sidecar(path).exists()):
        for older in path.parent.glob("kit-*.tar*"):
            older.unlink()
        export_bundle(path, names, store, purpose)
    return path


ns = Collection("kit", build, status, clean, export, import_, serve)
