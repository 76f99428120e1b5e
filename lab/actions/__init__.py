"""The actions of `lab.up`, in order. Each lives in its own module."""
from lab.actions.artifacts import ResolveArtifacts
from lab.actions.check import Check
from lab.actions.cluster import EnsureCluster
from lab.actions.deploy import Deploy
from lab.actions.images import BuildImages, LoadImages
from lab.actions.runtimeclasses import CreateRuntimeClasses
from lab.actions.shims import InstallShims

UP = [ResolveArtifacts(), EnsureCluster(), InstallShims(), CreateRuntimeClasses(), BuildImages(), LoadImages(),
      Deploy(), Check()]
