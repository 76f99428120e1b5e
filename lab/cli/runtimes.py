"""invoke runtimes.install / runtimes.uninstall: the wasm runtimes on the cluster's wasm nodes."""
from invoke import Collection, task

from lab import lifecycle
from lab.actions import RUNTIMES
from lab.cli.common import fail_on_errors, mode_override
from lab.cli.lab import MODE_HELP, RUNTIME_HELP, SPEC_HELP, load_spec
from lab.proc import stdout


@task(iterable=["runtime"], help={**SPEC_HELP, "runtime": RUNTIME_HELP, **MODE_HELP})
def install(c, runtime=None, config=None, name=None, offline=False, online=False):
    """Install, register and verify the runtimes (idempotent), and create their RuntimeClasses."""
    with fail_on_errors():
        lifecycle.run(load_spec(config, runtimes=runtime, name=name, offline=mode_override(offline, online)), RUNTIMES)


@task(iterable=["runtime"], help={**SPEC_HELP, "runtime": RUNTIME_HELP})
def uninstall(c, runtime=None, config=None, name=None):
    """Remove the runtimes: containerd config restored byte for byte, files, node labels, RuntimeClasses."""
    with fail_on_errors():
        removed = lifecycle.uninstall_runtimes(load_spec(config, runtimes=runtime, name=name))
    stdout.print("\n".join(f"removed {item}" for item in removed) or "nothing to remove")


ns = Collection("runtimes", install, uninstall)
