from lab.errors import LabError
from lab.kube import Kube, import_api_groups_beside


def made_by_lab(state) -> bool:
    return bool(state.get("cluster_created") or state.get("cluster_creating"))


class EnsureCluster:
    name = "cluster"
    title = "create the cluster (or reuse it) and wait for every node to be Ready"
    in_cluster = False
    # the providers' ensure writes the first three (a create under way, done; kind's network)
    records = ("cluster_creating", "cluster_created", "kind_network_created", "cluster_id", "cluster_adopted")
    notes = ("kubeconfig",)
    needs, gives = ('artifacts',), ('cluster', 'kube')

    def execute(self, ctx):
        provider, spec, state = ctx.provider, ctx.spec, ctx.state
        if provider.creates_clusters and provider.exists(spec):
            self.refuse_foreign(provider, spec, state)
        import_api_groups_beside()  # while ensure waits on a cluster being made (kind create: 25-35 s)
        cluster = provider.ensure(spec, ctx.artifacts.node_image, state)
        if cluster.created_by_lab or (made_by_lab(state) and not state.get("cluster_id")):
            state.set("cluster_id", provider.identity(spec))
        state.set("kubeconfig", str(cluster.kubeconfig))
        ctx.cluster = cluster
        ctx.kube = Kube(cluster.kubeconfig, cluster.context)
        ctx.kube.wait_nodes_ready()
        verb = "created" if cluster.created_by_lab else "adopted" if state.get("cluster_adopted") else "reused"
        return f"{verb} {provider.name} cluster {cluster.name}: {len(cluster.nodes)} nodes Ready, kubeconfig {cluster.kubeconfig}"

    @staticmethod
    def refuse_foreign(provider, spec, state) -> None:
        """A cluster of the lab's name that this lab did not make (or that was made again by hand
        since) is the user's: used only with --adopt, and then never deleted."""
        if made_by_lab(state):
            remade = EnsureCluster.not_the_labs(provider, spec, state)
            if remade:
                raise LabError(f"{remade}: choose another --name, or remove the lab's state folder and pass --adopt")
            return
        if state.get("cluster_adopted"):
            return
        if not spec.adopt:
            raise LabError(f"{provider.name} cluster {spec.name} {NOT_MADE}: choose another --name, or pass --adopt "
                           "to install into it (lab.down then leaves the cluster)")
        state.set("cluster_adopted", True)

    @staticmethod
    def not_the_labs(provider, spec, state) -> str | None:
        """Why the cluster of the lab's name is not this lab's to delete (one line), or None when
        it is the one the lab made, or there is none."""
        what = f"{provider.name} cluster {spec.context or spec.name}"
        if not provider.creates_clusters:
            return f"{what} {NOT_MADE} (provider {provider.name} never deletes a cluster)"
        if not provider.exists(spec):
            return None
        if not made_by_lab(state):
            return f"{what} {NOT_MADE}"
        recorded = state.get("cluster_id")
        if recorded and provider.identity(spec) != recorded:
            return f"{what} was made again outside the lab since lab.up created it; the lab leaves it alone"
        return None

    def undo(self, ctx) -> list[str]:
        """The cluster goes when the lab made it (and it is still the one it made); otherwise only
        what the provider added around the lab (labels, installer pods) is taken back."""
        provider, spec, state = ctx.provider, ctx.spec, ctx.state
        if not made_by_lab(state):
            return provider.release(spec, state)
        if self.not_the_labs(provider, spec, state):
            return []
        return provider.delete(spec, state)


NOT_MADE = "exists and was not created by this lab; the lab leaves it alone"


class AttachCluster:
    """Reach the running lab's cluster without changing anything (workloads.check)."""
    name = "attach"
    title = "reach the lab's cluster as lab.up left it (read-only)"
    in_cluster = False
    records, notes = (), ()
    needs, gives = (), ("cluster", "kube")

    def execute(self, ctx):
        ctx.cluster = ctx.provider.attach(ctx.spec, ctx.state)
        ctx.kube = Kube(ctx.cluster.kubeconfig, ctx.cluster.context or None)
        return f"{ctx.provider.name} cluster {ctx.cluster.name}, NodePorts on {ctx.cluster.check_host}"

    def undo(self, ctx) -> list[str]:
        return []
