from lab import artifacts, workloads


class CreateRuntimeClasses:
    name = "runtimeclasses"
    title = "one RuntimeClass per runtime, scheduled onto the nodes that have it"

    def execute(self, ctx):
        catalog = artifacts.runtimes_catalog()
        handlers = [catalog[r]["handler"] for r in ctx.spec.runtimes]
        for handler in handlers:
            ctx.kube.apply(workloads.runtime_class(handler))
            ctx.state.add("runtimeclasses", handler)
        return "applied " + ", ".join(handlers)
