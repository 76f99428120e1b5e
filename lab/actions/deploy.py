from lab import workloads


class Deploy:
    name = "deploy"
    title = "a Deployment and NodePort Service per variant, server-side applied, waited for until it answers"

    def execute(self, ctx):
        spec = ctx.spec
        ctx.kube.apply(workloads.namespace_object(spec.namespace))
        ctx.state.set("namespace", spec.namespace)
        for variant in spec.variants:
            for obj in workloads.variant_objects(variant, ctx.images[variant], spec.namespace, spec.host_port(variant)):
                ctx.kube.apply(obj)
        for variant in spec.variants:
            ctx.kube.wait_deployment_ready(f"httpbin-{variant}", spec.namespace)
        for variant in spec.variants:
            workloads.wait_answering(f"http://{ctx.cluster.check_host}:{spec.host_port(variant)}", variant)
        return f"{len(spec.variants)} variants ready and answering in namespace {spec.namespace}"
