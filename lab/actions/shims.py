from lab import artifacts, shims


class InstallShims:
    name = "shims"
    title = "install each runtime on the wasm nodes, register it with containerd, verify"

    def execute(self, ctx):
        catalog = artifacts.runtimes_catalog()
        lines = []
        for runtime in ctx.spec.runtimes:
            definition = catalog[runtime]
            for node in ctx.cluster.wasm_nodes:
                report = shims.install(node, definition, ctx.artifacts.files, ctx.artifacts.bundles_for(definition))
                label = shims.INSTALLED_LABEL.format(handler=definition["handler"])
                ctx.kube.core.patch_node(node.name, {"metadata": {"labels": {label: "installed"}}})
                ctx.state.add("runtimes_installed", runtime)
                what = []
                if report.copied:
                    what.append(f"copied {len(report.copied)} file(s)")
                if report.config_changed:
                    what.append("containerd config updated")
                if report.restarted:
                    what.append("containerd restarted")
                lines.append(f"{runtime}@{node.name}: {', '.join(what) or 'already installed'}, verified")
        return "; ".join(lines)
