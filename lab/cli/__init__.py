"""invoke collections, one module each; tasks.py adds them in this order."""
from lab.cli import cluster, images, kit, lab, pins, runtimes, workloads

lab.ns.add_task(pins.pins)  # lab.pins: its own module, the lab collection's task


def collections():
    return [module.ns for module in (lab, cluster, runtimes, images, workloads, kit)]
