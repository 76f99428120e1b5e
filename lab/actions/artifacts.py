from lab import artifacts
from lab.kit.bundle.importer import import_bundle


class ResolveArtifacts:
    name = "artifacts"
    title = "every artifact from its first origin that answers and verifies (lab.lock pins, mirrors, the kit)"
    in_cluster = False
    records, notes = (), ("artifact_origins", "artifact_engines")
    needs, gives = (), ('artifacts',)

    def __init__(self, with_runtimes: bool = True, with_images: bool = True):
        self.with_runtimes = with_runtimes  # cluster.create needs only the node image
        self.with_images = with_images

    def execute(self, ctx):
        spec = ctx.spec
        imported = ""
        if spec.kit_from:
            rows = import_bundle(spec.kit_from, spec.kit_sha256)
            imported = f"kit bundle {spec.kit_from}: " + ", ".join(
                f"{sum(1 for r in rows if r['action'] == action)} {action}" for action in ("imported", "present")) + "; "
        ctx.artifacts = artifacts.resolve(spec, spec.runtimes if self.with_runtimes else (),
                                          spec.variants if self.with_images else (), spec.provider)
        # merged: a resolution of fewer artifacts (the cluster collection's only needs the node image)
        # keeps what the others came from and carry, which lab.status and the bench report per variant
        ctx.state.set("artifact_origins", {**ctx.state.get("artifact_origins", {}), **ctx.artifacts.origins})
        ctx.state.set("artifact_engines", {**ctx.state.get("artifact_engines", {}), **ctx.artifacts.engines})
        by_origin: dict[str, list[str]] = {}
        for name, origin in sorted(ctx.artifacts.origins.items()):
            by_origin.setdefault(origin, []).append(name)
        return imported + f"{ctx.artifacts.mode}: " + "; ".join(f"{', '.join(names)} from {origin}"
                                                     for origin, names in by_origin.items())

    def undo(self, ctx) -> list[str]:
        return []  # verified downloads, kit artifacts and lab.lock are caches and the user's file: they stay
