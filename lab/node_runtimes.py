"""Installing a wasm runtime into one node: place its files, register it with containerd, verify.

Idempotent: files whose sha256 already matches are not copied, a config that already holds the
runtime is not rewritten and containerd is not restarted. On a failed restart or verification
the previous config is restored and containerd restarted on it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tenacity import RetryError, retry, retry_if_result, stop_after_delay, wait_fixed

from lab import containerd
from lab.artifacts.local import LocalBundle, LocalFile
from lab.catalog import Runtime
from lab.errors import LabError
from lab.nodes import Node

MAIN_CONFIG = "/etc/containerd/config.toml"
BACKUP_SUFFIX = ".wasm-lab.bak"
INSTALLED_LABEL = "wasm-lab.dev/runtime-{handler}"


def runtime_entry(runtime: Runtime) -> containerd.RuntimeEntry:
    return containerd.RuntimeEntry(
        handler=runtime.handler,
        runtime_type=runtime.runtime_type,
        options=dict(runtime.options),
        pod_annotations=runtime.pod_annotations,
    )


@dataclass
class InstallReport:
    node: str
    handler: str
    copied: list[str] = field(default_factory=list)
    config_changed: bool = False
    restarted: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.copied or self.config_changed)


BUNDLE_MARK = ".wasm-lab-digest"


def place_bundles(node: Node, bundles: list[dict], files: dict[str, LocalBundle]) -> list[str]:
    """Copy each bundle directory (source, dest, install) and run its install script, unless this
    very bundle is installed."""
    done = []
    for item in bundles:
        bundle = files[item["source"]]
        mark = f"{item['dest']}/{BUNDLE_MARK}"
        if (node.read_file(mark) or "").strip() == bundle.digest:
            continue
        node.put_files([(f"{item['dest']}/{relative}", bundle.verified_bytes(relative),
                         0o755 if relative.endswith(".sh") else 0o644) for relative in sorted(bundle.files)])
        node.run(["sh", f"{item['dest']}/{item['install']}"])
        node.put_file(mark, bundle.digest.encode())
        done.append(item["dest"])
    return done


def remove_bundle(node: Node, dest: str, uninstall: str | None) -> None:
    """Take a bundle off the node: its uninstall script undoes what its install added, then the
    directory goes (and /opt/wasm-lab with it once empty)."""
    if uninstall:
        node.run(["sh", "-c", 'if [ -e "$1" ]; then exec sh "$1"; fi', "uninstall", f"{dest}/{uninstall}"])
    node.run(["rm", "-rf", dest])
    node.run(["rmdir", "--ignore-fail-on-non-empty", str(PurePosixPath(dest).parent)], check=False)


def runtime_paths(runtimes) -> list[str]:
    """Where the runtimes' files go on a node: what `node.sha256s` is asked about once per node."""
    return sorted({item["dest"] for runtime in runtimes for item in runtime.files})


def foreign_files(runtime: Runtime, files: dict[str, LocalFile], sums: dict[str, str | None]) -> list[str]:
    """Files at the runtime's destinations that are not the ones the lab would place there
    (`sums`: the node's sha256 of each destination)."""
    return [item["dest"] for item in runtime.files if sums[item["dest"]] not in (None, files[item["source"]].sha256)]


def present(node: Node, runtimes: list[Runtime], files: dict[str, LocalFile], sums: dict[str, str | None]) -> list[bool]:
    """For each runtime, whether it is there already and live, as the lab would install it
    (another lab's, a user's, or this lab's from a run that got as far as loading it): its files
    (`sums`: the node's sha256 of each), its entry in one `containerd config dump`, and a
    containerd started after the config was last written."""
    candidates = [runtime for runtime in runtimes
                  if all(sums[item["dest"]] == files[item["source"]].sha256 for item in runtime.files)]
    main_text = node.read_file(MAIN_CONFIG) if candidates else None
    if main_text is None:
        return [False] * len(runtimes)
    missing = unregistered(node, [runtime_entry(runtime) for runtime in candidates])
    live = len(missing) < len(candidates) and loaded(node, [MAIN_CONFIG, *read_drop_ins(node, main_text)])
    return [live and runtime in candidates and runtime_entry(runtime) not in missing for runtime in runtimes]


def place_files(node: Node, wanted: list[Wanted], files: dict[str, LocalFile]) -> list[list[str]]:
    """Copy every file of the wanted runtimes whose sha256 differs, in one archive, and check each
    copy: the node asked twice in all, not per file. A different file that is there first is kept
    beside it (BACKUP_SUFFIX) for uninstall() to put back when its runtime says `keep_foreign`.
    The files copied, per wanted runtime."""
    items = [(item, spec) for item in wanted for spec in item.runtime.files]
    dests = [spec["dest"] for _, spec in items]
    current = node.sha256s(dests + [dest + BACKUP_SUFFIX for dest in dests])
    copies: dict[str, bytes] = {}
    for item, spec in items:
        dest, local = spec["dest"], files[spec["source"]]
        if current[dest] == local.sha256 or dest in copies:
            continue
        if current[dest] is not None and item.keep_foreign and current[dest + BACKUP_SUFFIX] is None:
            node.run(["cp", "-p", dest, dest + BACKUP_SUFFIX])
        copies[dest] = local.verified_bytes()
    node.put_files([(dest, content, 0o755) for dest, content in copies.items()])
    after = node.sha256s(list(copies))
    for item, spec in items:
        if spec["dest"] in copies and after[spec["dest"]] != files[spec["source"]].sha256:
            raise LabError(f"{node.name}: {spec['dest']} does not match sha256 {files[spec['source']].sha256} "
                           "after copying")
    return [[spec["dest"] for spec in item.runtime.files if spec["dest"] in copies] for item in wanted]


def read_drop_ins(node: Node, main_text: str) -> dict[str, str]:
    drop_ins = {}
    for directory in containerd.import_dirs(MAIN_CONFIG, main_text):
        listing = node.run(["sh", "-c", 'ls -1 "$1"/*.toml 2>/dev/null || true', "ls", directory]).stdout
        for path in listing.split():
            drop_ins[path] = node.read_file(path) or ""
    return drop_ins


def unregistered(node: Node, entries: list[containerd.RuntimeEntry]) -> list[containerd.RuntimeEntry]:
    """The entries `containerd config dump` does not show (one dump for all of them)."""
    dump = node.run(["containerd", "config", "dump"], check=False)
    return [entry for entry in entries if dump.returncode != 0 or not containerd.dump_has_runtime(dump.stdout, entry)]


def loaded(node: Node, paths: list[str]) -> bool:
    """Whether the running containerd started after the config files were last changed (their
    ctime, which no copy tool sets back, unlike the mtime a tar archive carries).
    `containerd config dump` reads the files, not the daemon: a run killed between writing the
    config and restarting containerd leaves a runtime the dump shows and the CRI does not know."""
    script = ('started=$(date -d "$(systemctl show -p ExecMainStartTimestamp --value containerd)" +%s) || exit 3; '
              'newest=$(stat -c %Z "$@" | sort -n | tail -n 1); [ "$started" -ge "$newest" ]')
    return node.run(["sh", "-c", script, "loaded", *paths], check=False).returncode == 0


def restart_containerd(node: Node, timeout: float = 60) -> None:
    node.run(["systemctl", "restart", "containerd"])

    @retry(stop=stop_after_delay(timeout), wait=wait_fixed(1), retry=retry_if_result(lambda up: not up))
    def answering():
        return node.run(["ctr", "version"], check=False).returncode == 0

    try:
        answering()
    except RetryError:
        raise LabError(f"{node.name}: containerd did not answer `ctr version` within {timeout:.0f}s after a restart")


def configure(node: Node, entries: list[containerd.RuntimeEntry], reports: list[InstallReport]) -> None:
    """Every entry into containerd's config on this node, then ONE restart when anything changed
    (a restart breaks the pods running there: lab/recovery.py), each verified in the dump."""
    main_text = node.read_file(MAIN_CONFIG)
    if main_text is None:
        raise LabError(f"{node.name}: {MAIN_CONFIG} not found; is this node running containerd?")
    drop_ins = read_drop_ins(node, main_text)
    read = {MAIN_CONFIG: main_text, **drop_ins}
    paths = [MAIN_CONFIG, *drop_ins]
    changes: dict[str, str] = {}
    for entry, report in zip(entries, reports):
        planned = containerd.plan_install(MAIN_CONFIG, main_text, entry, drop_ins)
        for path, text in planned.items():  # the next entry is planned over what this one writes
            if path == MAIN_CONFIG:
                main_text = text
            else:
                drop_ins[path] = text
        report.config_changed = bool(planned)
        changes.update(planned)
    if not changes:
        if not unregistered(node, entries) and loaded(node, paths):
            return
        for report in reports:
            report.restarted = True
        restart_containerd(node)
        unshown = [entry.handler for entry in unregistered(node, entries)]
        if unshown:
            raise LabError(f"{node.name}: runtime {', '.join(unshown)} is in the config but `containerd config dump` "
                           "does not show it; see `invoke lab.diagnose`")
        return
    originals = {path: read.get(path) for path in changes}  # as read above (None: a file it adds)
    for path, original in originals.items():
        if original is not None:
            node.put_file(path + BACKUP_SUFFIX, original.encode())
            if node.read_file(path + BACKUP_SUFFIX) != original:
                raise LabError(f"{node.name}: the backup {path}{BACKUP_SUFFIX} does not read back as written; "
                               "nothing was changed")
    for report in reports:
        report.restarted = True
    try:
        for path, text in changes.items():
            node.put_file(path, text.encode())
        restart_containerd(node)
        missing = unregistered(node, entries)
        if missing:
            raise LabError(f"{node.name}: `containerd config dump` does not show runtime "
                           + ", ".join(f"{e.handler} ({e.runtime_type})" for e in missing) + " after the restart")
    except BaseException:
        # also on Ctrl-C or SIGTERM: the node gets its previous config back from the backup on it
        for path, original in originals.items():
            if original is None:
                node.run(["rm", "-f", path])
            else:  # the copy kept on the node, read back; the text read before the change if it is gone
                kept = node.read_file(path + BACKUP_SUFFIX)
                node.put_file(path, (kept if kept is not None else original).encode())
        restart_containerd(node)
        raise


@dataclass
class Wanted:
    """One runtime to install on a node: its bundles, and whether a file not the lab's is kept aside."""
    runtime: Runtime
    bundles: tuple[dict, ...] | list[dict] = ()
    keep_foreign: bool = False


def install_all(node: Node, wanted: list[Wanted], files: dict) -> list[InstallReport]:
    """Several runtimes on one node: every file and bundle placed, then one config change and at
    most one containerd restart for all of them; a report per runtime, in order."""
    reports: list[InstallReport] = []
    placed: set[str] = set()
    for item in wanted:  # a bundle two runtimes need (WasmEdge's libraries) is looked at once
        bundles = [bundle for bundle in item.bundles if bundle["dest"] not in placed]
        placed.update(bundle["dest"] for bundle in bundles)
        reports.append(InstallReport(node.name, item.runtime.handler, place_bundles(node, bundles, files)))
    for report, copied in zip(reports, place_files(node, wanted, files)):
        report.copied += copied
    configure(node, [runtime_entry(item.runtime) for item in wanted], reports)
    return reports


def install(node: Node, runtime: Runtime, files: dict, bundles: tuple[dict, ...] | list[dict] = (),
            keep_foreign: bool = False) -> InstallReport:
    return install_all(node, [Wanted(runtime, bundles, keep_foreign)], files)[0]


@dataclass
class Uninstalled:
    handlers: list[str]  # the runtimes whose config came off, in order
    restarted: bool


def uninstall_all(node: Node, runtimes: list[Runtime]) -> Uninstalled:
    """Take several runtimes off one node: their config in one change and at most ONE containerd
    restart (one per runtime took 20-30 s of every lab.down on a cluster the lab did not make).
    Safe to run again after a failure: the files are put back only once containerd runs without
    them, and a config written but never loaded is loaded."""
    main_text = node.read_file(MAIN_CONFIG)
    if main_text is None:
        return Uninstalled([], False)
    drop_ins = read_drop_ins(node, main_text)
    paths = [MAIN_CONFIG, *drop_ins]
    changes: dict[str, str | None] = {}
    handlers = []
    for runtime in runtimes:  # each planned over what the one before leaves
        planned = containerd.plan_uninstall(MAIN_CONFIG, main_text, runtime.handler, drop_ins)
        for path, text in planned.items():
            if text is None:
                drop_ins.pop(path, None)
            elif path == MAIN_CONFIG:
                main_text = text
            else:
                drop_ins[path] = text
        if planned:
            handlers.append(runtime.handler)
        changes.update(planned)
    for path, text in changes.items():
        if text is None:
            node.run(["rm", "-f", path])
        else:
            node.put_file(path, text.encode())
    restart = bool(changes) or not loaded(node, [p for p in paths if p not in changes or changes[p] is not None])
    if restart:  # bundles go separately, once no runtime of the lab on the node needs them
        restart_containerd(node)
    for runtime in runtimes:
        for item in runtime.files:
            # a file the lab adopted goes back; one it brought goes away
            node.run(["sh", "-c", 'if [ -e "$1$2" ]; then mv -f "$1$2" "$1"; else rm -f "$1"; fi', "restore",
                      item["dest"], BACKUP_SUFFIX])
    return Uninstalled(handlers, restart)


def uninstall(node: Node, runtime: Runtime) -> bool:
    """Remove the runtime's config and files; return whether its config changed."""
    return bool(uninstall_all(node, [runtime]).handlers)
