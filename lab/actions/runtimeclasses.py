from lab import artifacts, ownership, workloads


class CreateRuntimeClasses:
    name = "runtimeclasses"
    title = "one RuntimeClass per runtime, scheduled onto the nodes that have it"
    in_cluster = True
    needs, gives = ('kube',), ()

    def execute(self, ctx):
        catalog = artifacts.runtimes_catalog()
        outcomes = []
        for runtime in ctx.spec.runtimes:
            handler = catalog[runtime]["handler"]
            # another lab's RuntimeClass of the same handler serves this lab too, untouched
            outcomes.append(f"{handler} {ownership.claim(ctx, workloads.runtime_class(handler), shared=True)}")
        return ", ".join(outcomes)

    def undo(self, ctx, runtimes: tuple[str, ...] | None = None) -> list[str]:
        catalog = artifacts.runtimes_catalog()
        handlers = None if runtimes is None else tuple(catalog[r]["handler"] for r in runtimes)
        return ownership.release(ctx, ("RuntimeClass",), handlers)
