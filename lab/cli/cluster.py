"""invoke cluster.create / cluster.delete: the first steps of lab.up, or the cluster alone."""
from invoke import Collection, task

from lab import lifecycle
from lab.actions import CLUSTER
from lab.cli.common import fail_on_errors, mode_override
from lab.cli.lab import MODE_HELP, SPEC_HELP, load_spec
from lab.proc import stdout


@task(help={**SPEC_HELP, **MODE_HELP})
def create(c, config=None, name=None, offline=False, online=False):
    """Create the lab's cluster (or reuse it) and wait for its nodes."""
    with fail_on_errors():
        lifecycle.run(load_spec(config, name=name, offline=mode_override(offline, online)), CLUSTER)


@task(help=SPEC_HELP)
def delete(c, config=None, name=None):
    """Delete the cluster if the lab created it, refusing any other (lab.down also removes images and state)."""
    with fail_on_errors():
        removed = lifecycle.delete_cluster(load_spec(config, name=name))
    stdout.print("\n".join(f"removed {item}" for item in removed) or "nothing to remove")


ns = Collection("cluster", create, delete)
