import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from rich.markup import escape

from lab import catalog, node_runtimes, recovery
from lab.catalog import Runtime
from lab.errors import LabError
from lab.pipeline import wait_beside
from lab.proc import console

CHANGED_AT = "runtimes_changed_at"  # when the lab last changed a runtime on a node (a containerd restart)
RECORD = "runtimes_on_nodes"     # "runtime@node" the lab installed (recorded before it changes the node)
LABELS = "labels_on_nodes"       # "label@node" the lab added
BUNDLES = "bundles_on_nodes"     # "dest@node" -> {uninstall, runtimes that need it} (recorded before placing)


class InstallRuntimes:
    name = "runtimes"
    title = "install each runtime on the wasm nodes, register it with containerd, verify"
    in_cluster = True
    records, notes = (RECORD, LABELS, BUNDLES), ("runtimes_installed", CHANGED_AT)
    needs, gives = ('artifacts', 'cluster', 'kube'), ()

    def execute(self, ctx):
        lines, restarted = [], set()
        installed: dict[str, set[str]] = {}  # node -> handlers the lab put there in this run
        before = self._ready_before(ctx)
        entries = [catalog.load().runtimes[runtime] for runtime in ctx.spec.runtimes]
        for node in ctx.cluster.wasm_nodes:
            wanted = []
            sums = node.sha256s(node_runtimes.runtime_paths(entries))
            live = node_runtimes.present(node, entries, ctx.artifacts.files, sums)
            # every check on this node before anything is recorded
            for runtime, entry, there in zip(ctx.spec.runtimes, entries, live):
                mark = f"{runtime}@{node.name}"
                ours = mark in ctx.state.get(RECORD, [])
                if not ours and there:
                    lines.append(f"{runtime}@{node.name}: there already (not the lab's to remove), verified")
                    self._label(ctx, node.name, entry)
                    continue
                not_ours = [] if ours else node_runtimes.foreign_files(entry, ctx.artifacts.files, sums)
                if not_ours and not ctx.spec.adopt:
                    raise LabError(f"{node.name}: {', '.join(not_ours)} exists and is not the lab's, so the lab leaves "
                                   f"it alone; remove it, or pass --adopt to keep it aside and put it back on lab.down")
                wanted.append((runtime, entry, there, bool(not_ours)))
            plans = []
            for runtime, entry, there, foreign in wanted:
                ctx.state.add(RECORD, f"{runtime}@{node.name}")
                if not there:
                    # recorded before the change, so an interrupted run still rolls the lab's wasm
                    # pods onto fresh sandboxes (deploy) instead of leaving them in back-off
                    ctx.state.set(CHANGED_AT, f"{time.time():.0f}")
                    installed.setdefault(node.name, set()).add(entry.handler)
                bundles = ctx.artifacts.bundles_for(entry)
                self._record_bundles(ctx, node.name, runtime, bundles)
                plans.append(node_runtimes.Wanted(entry, bundles, keep_foreign=foreign))
            # every runtime of this node in one config change and at most one containerd restart
            reports = node_runtimes.install_all(node, plans, ctx.artifacts.files) if plans else []
            for (runtime, entry, _, foreign), report in zip(wanted, reports):
                self._label(ctx, node.name, entry)
                ctx.state.add("runtimes_installed", runtime)
                what = []
                if report.copied:
                    what.append(f"copied {len(report.copied)} file(s)" + (" (the previous kept aside)" if foreign else ""))
                if report.config_changed:
                    what.append("containerd config updated")
                lines.append(f"{runtime}@{node.name}: {', '.join(what) or 'already installed'}, verified")
            if any(report.restarted for report in reports):
                restarted.add(node.name)
                lines.append(f"{node.name}: containerd restarted (once, for {', '.join(w[0] for w in wanted)})")
        for node_name in sorted(restarted):  # what else runs there is left as it was: running
            lines += self._bring_back(ctx, node_name, before[node_name], tuple(sorted(installed.get(node_name, ()))))
        return "; ".join(lines)

    @staticmethod
    def _ready_before(ctx) -> dict[str, list[recovery.SeenPod]]:
        """The pods Ready on each wasm node before the lab may restart containerd there. None on a
        cluster this very run made: only the cluster's own pods run there, nobody's to bring back
        or name (waiting for them to settle took 8-10 s of every first lab.up)."""
        if ctx.cluster.created_by_lab:
            return {node.name: [] for node in ctx.cluster.wasm_nodes}
        return {node.name: recovery.ready_pods(ctx.kube.core, node.name) for node in ctx.cluster.wasm_nodes}

    @staticmethod
    def _bring_back(ctx, node_name: str, before: list, without: tuple[str, ...]) -> list[str]:
        """After a restart: the lab's own pods that stay down are recreated; the others' are named."""
        outcome = recovery.bring_back(ctx.kube.core, node_name, ctx.spec.name, ctx.spec.namespace, before, without)
        if outcome.line_for_others:
            console.print(f"[yellow]{escape(outcome.line_for_others)}[/yellow]", soft_wrap=True)
        return [f"{node_name}: recreated {', '.join(p.ref for p in outcome.recreated)} (down after the containerd "
                "restart)"] if outcome.recreated else []

    @staticmethod
    def _record_bundles(ctx, node: str, runtime: str, bundles: list[dict]) -> None:
        placed = dict(ctx.state.get(BUNDLES, {}))
        for item in bundles:
            entry = placed.get(f"{item['dest']}@{node}", {"uninstall": item.get("uninstall"), "runtimes": []})
            placed[f"{item['dest']}@{node}"] = {**entry, "runtimes": sorted({*entry["runtimes"], runtime})}
        ctx.state.set(BUNDLES, placed)

    @staticmethod
    def _remove_unneeded_bundles(ctx, nodes: dict, runtimes_left: list[str]) -> list[str]:
        """Bundles no runtime the lab still has on their node needs: their packages and folder go."""
        removed, placed = [], dict(ctx.state.get(BUNDLES, {}))
        for key, entry in sorted(placed.items()):
            dest, _, node_name = key.rpartition("@")
            still = [r for r in entry["runtimes"] if f"{r}@{node_name}" in runtimes_left]
            if still or node_name not in nodes:
                placed[key] = {**entry, "runtimes": still} if node_name in nodes else entry
                continue
            node_runtimes.remove_bundle(nodes[node_name], dest, entry.get("uninstall"))
            removed.append(f"{dest} and the packages it added from {node_name}")
            del placed[key]
            ctx.state.set(BUNDLES, placed)
        ctx.state.set(BUNDLES, placed)
        return removed

    @staticmethod
    def _label(ctx, node: str, entry) -> None:
        label = node_runtimes.INSTALLED_LABEL.format(handler=entry.handler)
        labels = ctx.kube.core.read_node(node).metadata.labels or {}
        if labels.get(label) != "installed":
            ctx.state.add(LABELS, f"{label}@{node}")
            ctx.kube.core.patch_node(node, {"metadata": {"labels": {label: "installed"}}})

    def undo(self, ctx, runtimes: tuple[str, ...] | None = None) -> list[str]:
        """Take off each runtime the lab installed, on the nodes it installed it on, and its labels:
        all of a node's in one config change and one containerd restart, the nodes side by side.
        The wait for each node's other pods after the restart is left beside the undos that follow
        (pipeline.finish_waits_beside)."""
        nodes = {node.name: node for node in ctx.cluster.wasm_nodes}
        before = self._ready_before(ctx)
        taking: dict[str, list[tuple[str, Runtime]]] = {}  # node -> (mark, runtime)
        for mark in ctx.state.get(RECORD, []):
            runtime, _, node_name = mark.partition("@")
            if (runtimes is None or runtime in runtimes) and node_name in nodes:
                taking.setdefault(node_name, []).append((mark, catalog.load().runtimes[runtime]))
        handlers = tuple(sorted({entry.handler for marks in taking.values() for _, entry in marks}))

        def off(node_name: str) -> list[str]:
            removed = []
            with ctx.state.declared(self):  # a thread of its own: the declaration is per thread
                done = node_runtimes.uninstall_all(nodes[node_name], [entry for _, entry in taking[node_name]])
                for mark, entry in taking[node_name]:
                    if entry.handler in done.handlers:
                        removed.append(f"{entry.name} from {node_name} (containerd config restored)")
                    label = f"{node_runtimes.INSTALLED_LABEL.format(handler=entry.handler)}@{node_name}"
                    if label in ctx.state.get(LABELS, []):
                        ctx.kube.core.patch_node(node_name, {"metadata": {"labels": {label.partition("@")[0]: None}}})
                        ctx.state.remove(LABELS, label)
                    ctx.state.remove(RECORD, mark)
                if not any(m.endswith(f"@{node_name}") for m in ctx.state.get(RECORD, [])):
                    nodes[node_name].run(["rm", "-f", node_runtimes.MAIN_CONFIG + node_runtimes.BACKUP_SUFFIX])
                if done.restarted:  # what others run there is left as it was: running (waited for
                    # while the undos after this one go on)
                    wait_beside(ctx, f"{node_name} settled after the containerd restart",
                                partial(self._bring_back, ctx, node_name, before[node_name], handlers))
            return removed

        with ThreadPoolExecutor(max_workers=max(1, len(taking)), thread_name_prefix="uninstall") as pool:
            removed = [line for lines in pool.map(off, sorted(taking)) for line in lines]
        left = ctx.state.get(RECORD, [])
        ctx.state.set("runtimes_installed", sorted({m.partition("@")[0] for m in left}))
        return removed + self._remove_unneeded_bundles(ctx, nodes, left)
