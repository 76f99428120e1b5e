from lab import artifacts


class ResolveArtifacts:
    name = "artifacts"
    title = "pick upstream pins or the offline kit, and get every artifact checksummed"

    def execute(self, ctx):
        source = artifacts.choose_source(ctx.spec.offline)
        needs_node_image = ctx.spec.provider == "kind"
        ctx.artifacts = artifacts.resolve(ctx.spec.runtimes, source, needs_node_image)
        ctx.state.set("artifact_source", source)
        files = ", ".join(f"{name} {getattr(f, 'sha256', None) or f.digest}"[:len(name) + 13]
                          for name, f in sorted(ctx.artifacts.files.items()))  # a LocalBundle has a digest
        return f"{source}: node image {ctx.artifacts.node_image or '(not needed)'}; {files}"
