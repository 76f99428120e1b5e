from lab import images


class BuildImages:
    name = "images"
    title = "build the workload images (multi-stage, docker SDK; cached layers make re-runs quick)"

    def execute(self, ctx):
        ctx.images = {v: images.tag(v) for v in ctx.spec.variants}
        # Claim only the tags this lab brings into being (recorded before building, so an
        # interrupted build is still cleaned up); tags that were there before belong to
        # someone else. Every lab also notes what it uses, so no lab's down takes them away.
        for ref in sorted(set(ctx.images.values())):
            ctx.state.add("images_used", ref)
            if not images.exists(ref):
                ctx.state.add("images", ref)
        bases = images.BaseImages(ctx.artifacts.base_images)
        built = images.build(list(ctx.spec.variants), bases, log=ctx.state.dir / "images-build.log")
        return ", ".join(f"{b.tag} {b.size / 1e6:.1f} MB" for b in built)


class LoadImages:
    name = "load"
    title = "make the images available to the wasm nodes"

    def execute(self, ctx):
        refs = sorted(set(ctx.images.values()))
        loaded = ctx.provider.load_images(ctx.cluster, refs)
        # a provider that pushes to a registry returns the refs the nodes pull, in the same order
        renamed = dict(zip(refs, loaded))
        ctx.images = {v: renamed.get(ref, ref) for v, ref in ctx.images.items()}
        return f"{len(loaded)} image(s) on {', '.join(n.name for n in ctx.cluster.wasm_nodes)}"
