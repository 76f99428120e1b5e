"""The actions of `lab.up`, in order, each in its own module; the shorter lists serve the
cluster/runtimes/workloads collections, which run a prefix of the same pipeline."""
from lab.actions.artifacts import ResolveArtifacts
from lab.actions.check import Check, Report
from lab.actions.cluster import AttachCluster, EnsureCluster
from lab.actions.deploy import Deploy
from lab.actions.images import BuildImages, LoadImages
from lab.actions.jobs import RunJobs
from lab.actions.registry import PushArtifacts, RunRegistry
from lab.actions.runtimeclasses import CreateRuntimeClasses
from lab.actions.runtimes import InstallRuntimes
from lab.pipeline import Action, Together

CLUSTER: list[Action] = [ResolveArtifacts(with_runtimes=False, with_images=False), EnsureCluster()]
RUNTIMES: list[Action] = [ResolveArtifacts(with_images=False), EnsureCluster(), InstallRuntimes(), CreateRuntimeClasses()]
WORKLOADS: list[Action] = [ResolveArtifacts(with_runtimes=False), EnsureCluster(), BuildImages(), RunRegistry(),
                           LoadImages(), PushArtifacts(), Deploy()]
CHECK: list[Action] = [AttachCluster(), Together(RunJobs(), Check()), Report()]
# what a lab.up proved unchanged runs (lab/settled.py gives it the cluster, the images and the
# WASI Jobs' answers, which stay as the last lab.up judged them)
FAST_REST: list[Action] = [Check(), Report()]
# `kind create` and the image builds stay one after the other: side by side on 2 cores each took
# longer than both in a row (docs/speed.md). The runtimes (mostly waiting on docker exec and a
# containerd restart) do run beside the image builds and the registry's start.
UP: list[Action] = [ResolveArtifacts(), EnsureCluster(), Together(InstallRuntimes(), BuildImages(), RunRegistry()),
      CreateRuntimeClasses(), LoadImages(), PushArtifacts(), Deploy(), Together(RunJobs(), Check()), Report()]
