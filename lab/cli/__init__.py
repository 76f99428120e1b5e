"""invoke collections, one module each; tasks.py adds them in this order."""
from lab.cli import cluster, images, kit, lab, runtimes, workloads


def collections():
    return [module.ns for module in (lab, cluster, runtimes, images, workloads, kit)]
