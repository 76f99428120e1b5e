from lab.kube import Kube


class EnsureCluster:
    name = "cluster"
    title = "create the cluster (or reuse it) and wait for every node to be Ready"

    def execute(self, ctx):
        cluster = ctx.provider.ensure(ctx.spec, ctx.artifacts.node_image, ctx.state)
        ctx.state.set("kubeconfig", str(cluster.kubeconfig))
        ctx.state.set("check_host", cluster.check_host)  # where lab.bench reaches the NodePorts
        ctx.cluster = cluster
        ctx.kube = Kube(cluster.kubeconfig, cluster.context)
        ctx.kube.wait_nodes_ready()
        verb = "created" if cluster.created_by_lab else "reused"
        return f"{verb} {ctx.provider.name} cluster {cluster.name}: {len(cluster.nodes)} nodes Ready, kubeconfig {cluster.kubeconfig}"
