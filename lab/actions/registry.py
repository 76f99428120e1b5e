import posixpath

from lab import catalog, images, registry
from lab.actions.images import LOADED, record_missing
from lab.containerd import registry_hosts_dirs
from lab.errors import LabError

CONTAINER = "registry_container"        # the lab registry container's name, recorded before it is run
HOSTS_FILES = "registry_hosts_on_nodes"  # "hosts.toml path@node" the lab wrote
REPOSITORY = images.REPOSITORY


def artifact_variants(spec) -> list[str]:
    variants = catalog.load().variants
    return [v for v in spec.variants if variants[v].delivery == "artifact"]


class RunRegistry:
    name = "registry"
    title = "the registry the nodes pull images and Wasm OCI artifacts from (the lab's own container, or yours)"
    in_cluster = False
    records, notes = (CONTAINER,), ()
    needs, gives = ("artifacts", "cluster"), ("registry",)

    def execute(self, ctx):
        spec = ctx.spec
        if not (artifact_variants(spec) or spec.pulls_images):
            ctx.registry = None
            return "neither images nor artifacts are pulled from a registry in this lab"
        if spec.provider == "existing":
            ctx.registry = registry.user_endpoint(spec.registry)
            return f"the nodes pull from {spec.registry} (yours: the lab only pushes to it)"
        name = registry.container_name(spec.name)
        ctx.state.set(CONTAINER, name)
        image = ctx.artifacts.images["lab-registry"].ref
        generation = registry.storage_generation(ctx.artifacts.base_identities)
        ctx.registry, created = registry.ensure_container(spec.name, image, ctx.provider.registry_network, generation)
        return (f"{'started' if created else 'kept'} {name} ({image}) on network {ctx.provider.registry_network}: "
                f"nodes pull from {ctx.registry.pull}, the host pushes to {ctx.registry.push}")

    def undo(self, ctx) -> list[str]:
        name = ctx.state.get(CONTAINER)
        if not name:
            return []
        removed = [f"registry container {name}"] if registry.remove_container(ctx.spec.name) else []
        ctx.state.set(CONTAINER, None)
        return removed


class PushArtifacts:
    name = "push"
    title = "tell the wasm nodes' containerd the lab registry; push each artifact variant as a Wasm OCI artifact"
    in_cluster = True
    records, notes = (HOSTS_FILES, LOADED), ()
    needs, gives = ("cluster", "images", "registry"), ("images",)

    def execute(self, ctx):
        if ctx.registry is None:
            return "no registry in this lab"
        done = []
        if ctx.spec.provider != "existing":
            self._point_nodes_at(ctx, ctx.registry.pull)
            done.append(f"the wasm nodes pull {ctx.registry.pull} over plain HTTP")
        variants = artifact_variants(ctx.spec)
        pushed = []
        for variant in variants:
            wasm = images.wasm_bytes(images.tag(variant))
            # a component (version 0x0d, layer 1) targets WASI 0.2; a core module WASI 0.1
            wasi = "wasip1" if wasm[4:8] == b"\x01\x00\x00\x00" else "wasip2"
            digest = registry.push_wasm(ctx.registry, REPOSITORY, variant, wasm, wasi)
            ctx.images[variant] = ctx.registry.pull_ref(REPOSITORY, variant)
            pushed.append(f"{variant} ({wasi}, {len(wasm) / 1e6:.1f} MB, {digest[:19]})")
        if variants:  # what the nodes will pull, as loaded images are, is the lab's to remove later
            record_missing(ctx, [ctx.images[variant] for variant in variants])
        if pushed:
            done.append(f"pushed to {ctx.registry.push}: " + ", ".join(pushed))
        return "; ".join(done) or "no artifact variant in this lab"

    @staticmethod
    def _point_nodes_at(ctx, pull: str) -> None:
        """A hosts.toml per wasm node saying the registry at `pull` speaks plain HTTP (read per pull: no restart)."""
        content = registry.hosts_toml(pull)
        for node in ctx.cluster.wasm_nodes:
            dump = node.run(["containerd", "config", "dump"]).stdout
            folders = registry_hosts_dirs(dump)
            if not folders:
                raise LabError(f"{node.name}: containerd has no registry config_path, so it cannot be told that the lab "
                               f"registry speaks plain HTTP; a cluster made by this lab.up has it (lab.down, then lab.up)")
            path = posixpath.join(folders[0], pull, "hosts.toml")
            there = node.read_file(path)
            if there == content:
                continue
            if there is not None:
                raise LabError(f"{node.name}: {path} exists and is not the lab's; the lab leaves it alone")
            ctx.state.add(HOSTS_FILES, f"{path}@{node.name}")
            node.put_file(path, content.encode())

    def undo(self, ctx) -> list[str]:
        nodes = {node.name: node for node in ctx.cluster.wasm_nodes}
        removed = []
        for mark in ctx.state.get(HOSTS_FILES, []):
            path, _, node_name = mark.rpartition("@")
            node = nodes.get(node_name)
            pull = posixpath.basename(posixpath.dirname(path))
            if node is not None and node.read_file(path) == registry.hosts_toml(pull):
                node.run(["rm", "-f", path])
                node.run(["rmdir", posixpath.dirname(path)], check=False)
                removed.append(f"{path} on {node_name}")
            ctx.state.remove(HOSTS_FILES, mark)
        return removed
