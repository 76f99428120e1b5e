from concurrent.futures import ThreadPoolExecutor

from lab import ownership, recovery, workloads
from lab.actions.runtimes import CHANGED_AT

CLAIMS_AT_ONCE = 6

WORKLOAD_KINDS = ("Deployment", "Service", "Namespace")


class Deploy:
    name = "deploy"
    title = "a Deployment and NodePort Service per variant, server-side applied, waited for until it answers"
    in_cluster = True
    records, notes = (ownership.OWNED, ownership.ADOPTED), ("namespace",)
    needs, gives = ('cluster', 'kube', 'images'), ()

    def execute(self, ctx):
        spec = ctx.spec
        namespace = ownership.claim(ctx, workloads.namespace_object(spec.namespace))
        ctx.state.set("namespace", spec.namespace)
        runtimes_at = ctx.state.get(CHANGED_AT, "")
        objects = [obj for variant in spec.variants
                   for obj in workloads.variant_objects(variant, ctx.images[variant], spec.namespace,
                                                        spec.host_port(variant), runtimes_at, lab=spec.name)]

        def claim(obj: dict) -> str:
            with ctx.state.declared(self):  # a thread of its own: the declaration is per thread
                return ownership.claim(ctx, obj)

        # a claim is two round trips to the API server: the variants' objects a few at once. A
        # failure or an interrupt stops here: map cancels the claims not begun, the ones under way
        # end (each recorded before its change), so no rollout starts that no run waits for
        with ThreadPoolExecutor(max_workers=CLAIMS_AT_ONCE, thread_name_prefix="claim") as pool:
            list(pool.map(claim, objects))
        repaired = self._recreate_crash_looping(ctx)
        ctx.kube.wait_deployments_ready([f"httpbin-{variant}" for variant in spec.variants], spec.namespace)
        for variant in spec.variants:  # by now each takes one request (a first one may wait for its route)
            workloads.wait_answering(f"http://{ctx.cluster.check_host}:{spec.host_port(variant)}", variant)
        return (f"{len(spec.variants)} variants ready and answering in namespace {spec.namespace} ({namespace})"
                + (f"; recreated {', '.join(p.ref for p in repaired)} (crash-looping)" if repaired else ""))

    @staticmethod
    def _recreate_crash_looping(ctx) -> list[recovery.SeenPod]:
        """The lab's pods that crash-loop (e.g. stuck on a port an instance orphaned by a containerd
        restart still holds) get a new sandbox: deleted, their Deployment makes new ones."""
        looping = recovery.crash_looping_pods(ctx.kube.core, ctx.spec.namespace, ctx.spec.name)
        recovery.recreate(ctx.kube.core, looping)
        return looping

    def undo(self, ctx) -> list[str]:
        """The variants first, then the namespace: deleted when the lab made it, restored when
        adopted. In between, the variants' pods are waited for: the namespace controller, finding
        pods in a namespace it deletes, looks again only after their grace period (30 s), however
        soon they end."""
        namespaces = {key.split("|")[2] for key in ctx.state.get(ownership.OWNED, []) if key.split("|")[1] == "Deployment"}
        removed = ownership.release(ctx, ("Deployment", "Service"))
        for namespace in sorted(namespaces):
            ctx.kube.wait_pods_gone(namespace, ctx.spec.name)
        return removed + ownership.release(ctx, ("Namespace",))
