from lab import catalog, ownership, workloads


class CreateRuntimeClasses:
    name = "runtimeclasses"
    title = "one RuntimeClass per runtime, scheduled onto the nodes that have it"
    in_cluster = True
    records, notes = (ownership.OWNED, ownership.ADOPTED), ()
    needs, gives = ('kube',), ()

    def execute(self, ctx):
        outcomes = []
        for runtime in ctx.spec.runtimes:
            handler = catalog.load().runtimes[runtime].handler
            # another lab's RuntimeClass of the same handler serves this lab too, untouched
            outcomes.append(f"{handler} {ownership.claim(ctx, workloads.runtime_class(handler), shared=True)}")
        return ", ".join(outcomes)

    def undo(self, ctx, runtimes: tuple[str, ...] | None = None) -> list[str]:
        handlers = None if runtimes is None else tuple(catalog.load().runtimes[r].handler for r in runtimes)
        return ownership.release(ctx, ("RuntimeClass",), handlers)
