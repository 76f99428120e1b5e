from concurrent.futures import ThreadPoolExecutor

import docker

from lab import catalog, images, registry
from lab.docker_api import docker_client
from lab.mirrors import ImageRef
from lab.proc import console

LOADED = "images_on_nodes"       # "containerd name@node" the lab brought onto a node


def local_tags(spec) -> dict[str, str]:
    """The local tag of each variant's image and each WASI job image of a lab, by variant or target."""
    return {v: images.tag(v) for v in spec.variants + catalog.load().job_images_for(spec.runtimes)}


class BuildImages:
    name = "images"
    title = "the workload images: each built (multi-stage, docker SDK) unless one from the same inputs is there"
    in_cluster = False
    records, notes = ("images",), ("images_used",)
    needs, gives = ("artifacts",), ("images",)

    def execute(self, ctx):
        ctx.images = local_tags(ctx.spec)
        # Claim only the tags this lab brings into being (recorded before building, so an
        # interrupted build is still cleaned up); tags that were there before belong to
        # someone else. Every lab also notes what it uses, so no lab's down takes them away.
        for ref in sorted(set(ctx.images.values())):
            ctx.state.add("images_used", ref)
            if not images.exists(ref):
                ctx.state.add("images", ref)
        bases = images.BaseImages(ctx.artifacts.base_images, identities=ctx.artifacts.base_identities)
        built = images.build(list(ctx.images), bases, log=ctx.state.dir / "images-build.log", wasm_sums=False)
        return ", ".join(f"{b.tag} {b.size / 1e6:.1f} MB" + (" (prebuilt, same inputs)" if b.prebuilt else "")
                         for b in built)

    def undo(self, ctx) -> list[str]:
        """The local tags this lab made; one that another lab still uses is handed over to it."""
        client = docker_client()
        users = {ref: other for other in ctx.state.others() for ref in other.get("images_used", [])}
        removed = []
        for tag in ctx.state.get("images", []):
            if tag in users:
                users[tag].add("images", tag)  # the last lab using a tag removes it
                console.print(f"kept image tag {tag}: lab {users[tag].dir.name} uses it")
                continue
            try:
                client.images.remove(tag)
                removed.append(f"image tag {tag}")
            except docker.errors.ImageNotFound:
                pass
        return removed


def refs_alongside(listing: str, names: list[str]) -> list[str]:
    """The refs containerd made itself for these image names (`ctr images ls` output): a pulled
    tag gets `repo@sha256:<manifest>` and `sha256:<config>` beside it, which keep the image's
    content after the tag goes. Only for an image no other name (someone else's tag) points to."""
    target = {}
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            target[fields[0]] = fields[2]
    repositories = {ImageRef.parse(name).repository for name in names}

    def made_by_containerd(ref: str) -> bool:
        if ref.startswith("sha256:"):
            return True
        parsed = ImageRef.parse(ref)
        return parsed.digest.startswith("sha256:") and parsed.repository in repositories

    alongside = []
    for digest in {target[name] for name in names if name in target}:
        others = [ref for ref, d in target.items() if d == digest and ref not in names]
        if all(made_by_containerd(ref) for ref in others):
            alongside += others
    return sorted(alongside)


def names_on_node(node) -> set[str]:
    return set(node.run(["ctr", "-n", "k8s.io", "images", "ls", "-q"], check=False).stdout.split())


def record_missing(ctx, refs: list[str]) -> None:
    """Notes, before they are brought, the images each wasm node lacks: the lab's to remove later."""
    names = [str(ImageRef.parse(ref)) for ref in refs]
    for node in ctx.cluster.wasm_nodes:
        there = names_on_node(node)
        for name in names:
            if name not in there:
                ctx.state.add(LOADED, f"{name}@{node.name}")


class LoadImages:
    name = "load"
    title = "make the images available to the wasm nodes (pushed to the lab registry, or loaded)"
    in_cluster = True
    records, notes = (LOADED,), ()
    needs, gives = ("cluster", "images", "registry"), ("images",)

    def execute(self, ctx):
        refs = sorted(set(ctx.images.values()))
        pushing = ctx.spec.pulls_images
        if pushing:
            record_missing(ctx, [ctx.registry.pull_name(ref) for ref in refs])
        else:
            record_missing(ctx, refs + ctx.provider.pulled_names(ctx.spec, refs))
        if pushing:
            with console.status(f"pushing {len(refs)} image(s) to the lab registry {ctx.registry.push}"):
                loaded = registry.push_images(ctx.registry, refs)
        else:
            loaded = ctx.provider.load_images(ctx.cluster, refs)
        # pushed to a registry: the refs the nodes pull, in the same order
        renamed = dict(zip(refs, loaded))
        ctx.images = {v: renamed.get(ref, ref) for v, ref in ctx.images.items()}
        if pushing:
            return f"{len(loaded)} image(s) pushed to {ctx.registry.push}; the nodes pull them from {ctx.registry.pull}"
        return f"{len(loaded)} image(s) on {', '.join(n.name for n in ctx.cluster.wasm_nodes)}"

    def undo(self, ctx) -> list[str]:
        """The images the lab brought onto each node, with the refs containerd made beside them: one
        `ctr images rm` per node, the nodes side by side."""
        nodes = {node.name: node for node in ctx.cluster.wasm_nodes}
        by_node: dict[str, list[str]] = {}
        for mark in ctx.state.get(LOADED, []):
            name, _, node_name = mark.rpartition("@")
            by_node.setdefault(node_name, []).append(name)

        def off(node_name: str) -> list[str]:
            with ctx.state.declared(self):  # a thread of its own: the declaration is per thread
                gone = []
                if node_name in nodes:
                    node, names = nodes[node_name], by_node[node_name]
                    listing = node.run(["ctr", "-n", "k8s.io", "images", "ls"], check=False).stdout
                    # ctr prints each name it removed and only warns about one that is not there
                    done = node.run(["ctr", "-n", "k8s.io", "images", "rm", *names, *refs_alongside(listing, names)],
                                    check=False)
                    gone = [name for name in names if name in done.stdout.split()]
                for name in by_node[node_name]:
                    ctx.state.remove(LOADED, f"{name}@{node_name}")
                return [f"image {name} from {node_name}" for name in gone]

        with ThreadPoolExecutor(max_workers=max(1, len(by_node)), thread_name_prefix="images-off") as pool:
            return [line for lines in pool.map(off, sorted(by_node)) for line in lines]
