from lab import images
from lab.spec import ALL_VARIANTS

# runtime-crun-wasmedge runs the very image of runtime-wasmedge: same .wasm, other runtime.
IMAGE_OF_VARIANT = {v: v for v in ALL_VARIANTS} | {"runtime-crun-wasmedge": "runtime-wasmedge"}


class BuildImages:
    name = "images"
    title = "build the workload images (multi-stage, docker SDK; cached layers make re-runs quick)"

    def execute(self, ctx):
        wanted = sorted({IMAGE_OF_VARIANT[v] for v in ctx.spec.variants})
        built = images.build_variants(wanted, use_kit=ctx.artifacts.source == "kit")
        by_variant = {b["variant"]: b["tag"] for b in built}
        ctx.images = {v: by_variant[IMAGE_OF_VARIANT[v]] for v in ctx.spec.variants}
        for tag in by_variant.values():
            ctx.state.add("images", tag)
        return ", ".join(f"{b['tag']} {b['size_bytes'] / 1e6:.1f} MB" for b in built)


class LoadImages:
    name = "load"
    title = "make the images available to the wasm nodes"

    def execute(self, ctx):
        loaded = ctx.provider.load_images(ctx.cluster, sorted(set(ctx.images.values())))
        return f"{len(loaded)} image(s) on {', '.join(n.name for n in ctx.cluster.wasm_nodes)}"
