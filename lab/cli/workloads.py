"""invoke workloads.deploy / workloads.check: the httpbin variants on a running lab."""
from invoke import Collection, task

from lab import lifecycle
from lab.actions import CHECK, WORKLOADS
from lab.cli.common import fail_on_errors, mode_override
from lab.cli.lab import MODE_HELP, RUNTIME_HELP, SPEC_HELP, load_spec


@task(iterable=["runtime"], help={**SPEC_HELP, "runtime": RUNTIME_HELP, **MODE_HELP})
def deploy(c, runtime=None, config=None, name=None, offline=False, online=False):
    """Build, load and deploy the variants of the given runtimes (and native), and wait for them."""
    with fail_on_errors():
        lifecycle.run(load_spec(config, runtimes=runtime, name=name, offline=mode_override(offline, online)), WORKLOADS)


@task(iterable=["runtime"], help={**SPEC_HELP, "runtime": RUNTIME_HELP})
def check(c, runtime=None, config=None, name=None):
    """Send every variant the same requests and compare the answers (table, JSON, JUnit XML)."""
    with fail_on_errors():
        lifecycle.run(load_spec(config, runtimes=runtime, name=name), CHECK)


ns = Collection("workloads", deploy, check)
