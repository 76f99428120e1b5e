"""What a lab owns in a cluster, recorded before it is made, and taken back exactly.

Kubernetes objects carry the annotation wasm-lab.dev/owner=<lab>. The state records each object
the lab applies before applying it (so an interrupted run is still undone), and the backup of each
object it adopted (--adopt) so lab.down restores it instead of deleting it. Objects are removed
only while they still carry this lab's mark."""
from __future__ import annotations

from functools import partial

from lab.kube import owner_of
from lab.pipeline import wait_beside

OWNED = "owned_objects"
ADOPTED = "adopted_objects"


def object_key(body: dict) -> str:
    meta = body["metadata"]
    return "|".join((body["apiVersion"], body["kind"], meta.get("namespace") or "", meta["name"]))


def claim(ctx, body: dict, shared: bool = False) -> str:
    """Apply an object as this lab's (see Kube.apply_owned); returns what happened."""
    key = object_key(body)
    known = key in ctx.state.get(OWNED, [])
    ctx.state.add(OWNED, key)
    outcome, backup = ctx.kube.apply_owned(body, ctx.spec.name, adopt=ctx.spec.adopt, shared=shared)
    if outcome == "shared" and not known:
        ctx.state.remove(OWNED, key)
    if backup is not None:
        ctx.state.put(ADOPTED, key, backup)
    return outcome


def _gone(kube, api_version: str, kind: str, name: str) -> list[str]:
    kube.wait_gone(api_version, kind, name, every=0.5)
    return []


def release(ctx, kinds: tuple[str, ...], names: tuple[str, ...] | None = None) -> list[str]:
    """Undo claim() for the recorded objects of these kinds (newest first): restore what was
    adopted, delete what carries this lab's mark, leave everything else."""
    removed = []
    for key in reversed(ctx.state.get(OWNED, [])):
        api_version, kind, namespace, name = key.split("|")
        if kind not in kinds or (names is not None and name not in names):
            continue
        what = f"{kind} {namespace + '/' if namespace else ''}{name}"
        adopted = ctx.state.get(ADOPTED, {})
        if key in adopted:
            if owner_of(ctx.kube.read(api_version, kind, name, namespace or None)) == ctx.spec.name:
                ctx.kube.apply(adopted[key])
                removed.append(f"{what} (restored as it was before the lab adopted it)")
            ctx.state.set(ADOPTED, {k: v for k, v in adopted.items() if k != key})
        elif ctx.kube.delete_owned(api_version, kind, name, ctx.spec.name, namespace or None):
            if kind == "Namespace":  # waited for while the undos after this one go on
                wait_beside(ctx, f"namespace {name} gone", partial(_gone, ctx.kube, api_version, kind, name))
            removed.append(what)
        ctx.state.remove(OWNED, key)
    return removed
