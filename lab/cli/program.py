"""The `wasm-lab` command: the same tasks as `invoke`, with the lab's own at the top level
(`wasm-lab up --runtime wasmedge` is `invoke lab.up --runtime wasmedge`; `wasm-lab kit.build`
is `invoke kit.build`)."""
import signal
import sys
from importlib.metadata import PackageNotFoundError, version

from invoke import Collection, Program

from lab.cli import collections


def stop_on_sigterm() -> None:
    """A terminated run unwinds like Ctrl-C, so build containers and scaled deployments are put back."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def namespace() -> Collection:
    lab, *others = collections()
    root = Collection()
    for name in lab.task_names:
        root.add_task(lab.tasks[name], name=name)
    for collection in others:
        root.add_collection(collection)
    return root


def main() -> None:
    stop_on_sigterm()
    try:
        release = version("wasm-lab")
    except PackageNotFoundError:
        release = "unreleased"
    Program(name="wasm-lab", binary="wasm-lab", version=release, namespace=namespace()).run()
