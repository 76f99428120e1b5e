from lab import artifacts


class ResolveArtifacts:
    name = "artifacts"
    title = "pick upstream pins or the offline kit, and get every artifact checksummed"

    def __init__(self, with_runtimes: bool = True):
        self.with_runtimes = with_runtimes  # cluster.create needs only the node image

    def execute(self, ctx):
        source = artifacts.choose_source(ctx.spec.offline)
        runtimes = ctx.spec.runtimes if self.with_runtimes else ()
        ctx.artifacts = artifacts.resolve(runtimes, source, ctx.spec.provider)
        ctx.state.set("artifact_source", source)
        files = ", ".join(f"{name} {getattr(f, 'sha256', None) or f.digest}"[:len(name) + 13]
                          for name, f in sorted(ctx.artifacts.files.items()))  # a LocalBundle has a digest
        return f"{source}: node image {ctx.artifacts.node_image or '(not needed)'}; {files or 'no runtime files'}"
