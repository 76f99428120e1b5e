"""The lab's variants as the bench finds them in the cluster, and how it scales them and puts them
back (the only change the bench makes besides the image-removed run)."""
from __future__ import annotations

from dataclasses import dataclass

from lab.errors import LabError
from lab.waits import wait_until

PART_OF = "app.kubernetes.io/part-of=wasm-lab"
VARIANT_LABEL = "wasm-lab.dev/variant"


@dataclass
class Target:
    """One variant as deployed: its Deployment, pods, image and host port."""
    variant: str
    deployment: str
    namespace: str
    selector: str
    port: int | None
    image: str
    runtime_class: str | None
    replicas: int   # as applied; restored at the end
    host: str = "127.0.0.1"  # where the NodePort is reached (lab.up records it per provider)
    container_port: int = 3000       # where the pod itself listens (the Service's targetPort)
    cluster_ip: str | None = None    # the Service inside the cluster
    service_port: int | None = None


def discover(kube, namespace: str) -> dict[str, Target]:
    """The lab's variants as found in the cluster (not as the spec would deploy them)."""
    targets = {}
    for deployment in kube.apps.list_namespaced_deployment(namespace, label_selector=PART_OF).items:
        labels = deployment.metadata.labels or {}
        variant = labels.get(VARIANT_LABEL)
        if not variant:
            continue
        name = deployment.metadata.name
        port, container_port, cluster_ip, service_port = None, 3000, None, None
        try:
            service = kube.core.read_namespaced_service(name, namespace)
            port, service_port = service.spec.ports[0].node_port, service.spec.ports[0].port
            if isinstance(service.spec.ports[0].target_port, int):
                container_port = service.spec.ports[0].target_port
            cluster_ip = service.spec.cluster_ip
        except Exception:
            pass
        pod_spec = deployment.spec.template.spec
        selector = ",".join(f"{k}={v}" for k, v in sorted(deployment.spec.selector.match_labels.items()))
        targets[variant] = Target(variant=variant, deployment=name, namespace=namespace, selector=selector,
                                  port=port, image=pod_spec.containers[0].image,
                                  runtime_class=pod_spec.runtime_class_name,
                                  replicas=deployment.spec.replicas if deployment.spec.replicas is not None else 1,
                                  container_port=container_port, cluster_ip=cluster_ip, service_port=service_port)
    return targets


def is_ready(pod) -> bool:
    """The pod's Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def live_pods(kube, target: Target) -> list:
    pods = kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items
    return [p for p in pods if p.metadata.deletion_timestamp is None]


def running_pod(kube, target: Target, timeout: float = 120):
    def ready_pod():
        for pod in live_pods(kube, target):
            if is_ready(pod):
                return pod
        return None

    return wait_until(ready_pod, timeout, f"no Ready pod of {target.deployment}")


def scale(kube, target: Target, replicas: int) -> None:
    kube.apps.patch_namespaced_deployment_scale(target.deployment, target.namespace, {"spec": {"replicas": replicas}})


def scale_to_zero(kube, target: Target, timeout: float = 120) -> None:
    """Scale to 0 and wait until no pod of the variant is left (terminating ones included)."""
    scale(kube, target, 0)
    # The workloads do not need a 30 s grace period; a short one keeps runs apart and quick.
    for pod in kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items:
        try:
            kube.core.delete_namespaced_pod(pod.metadata.name, target.namespace, grace_period_seconds=1)
        except Exception:
            pass
    wait_until(lambda: not kube.core.list_namespaced_pod(target.namespace, label_selector=target.selector).items,
               timeout, f"pods of {target.deployment} were still there after scaling it to 0")


def restore(kube, targets, timeout: float = 180) -> list[str]:
    """Put every Deployment back to its applied replicas and wait for it; return what failed."""
    problems = []
    for target in targets:
        try:
            current = kube.apps.read_namespaced_deployment_scale(target.deployment, target.namespace).spec.replicas
            if current != target.replicas:
                scale(kube, target, target.replicas)
        except Exception as error:
            problems.append(f"{target.deployment}: could not restore {target.replicas} replica(s): {error}")
    for target in targets:
        try:
            kube.wait_deployment_ready(target.deployment, target.namespace, timeout=timeout)
        except LabError as error:
            problems.append(str(error))
    return problems
