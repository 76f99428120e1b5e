"""Image sizes (in the node, in the host's Docker, compressed) and taking an image off a node for
the image-removed start."""
from __future__ import annotations

import zlib

from lab.bench.results import ImageSize
from lab.errors import LabError


def ref_candidates(ref: str) -> set[str]:
    """The names containerd may list an image ref under (docker.io/ and library/ filled in)."""
    names = {ref}
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        names.add(f"docker.io/library/{ref}")
    elif "." not in first and ":" not in first and first != "localhost":
        names.add(f"docker.io/{ref}")
    return names


def node_image_bytes(kube, node: str, ref: str) -> int | None:
    """containerd's size of the image in the node, from the node's CRI image list (node status)."""
    wanted = ref_candidates(ref)
    for image in kube.core.read_node(node).status.images or []:
        if wanted & set(image.names or []):
            return image.size_bytes
    return None


def gzip_size(chunks) -> int:
    """Bytes of the gzip (level 6) compression of a stream of chunks, without keeping it."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    total = 0
    for chunk in chunks:
        total += len(compressor.compress(chunk))
    return total + len(compressor.flush())


def image_size(kube, node: str | None, ref: str, docker_client=None, cache: dict | None = None) -> tuple[ImageSize, list[str]]:
    notes = []
    size = ImageSize(ref=ref)
    if node:
        try:
            size.node_bytes = node_image_bytes(kube, node, ref)
        except Exception as error:
            notes.append(f"image size in the node unavailable: {error.__class__.__name__}")
        if size.node_bytes is None:
            notes.append(f"{ref} is not in node {node}'s image list")
    try:
        from lab.docker_api import docker_client as shared_client

        client = docker_client or shared_client()
        image = client.images.get(ref)
        size.image_id, size.host_bytes = image.id, image.attrs.get("Size")
        cache = cache if cache is not None else {}
        if image.id not in cache:
            cache[image.id] = gzip_size(image.save(chunk_size=1 << 20))
        size.gzip_bytes = cache[image.id]
    except Exception as error:
        notes.append(f"{ref} is not in the host's Docker ({error.__class__.__name__}): no compressed size")
    return size, notes


def node_image_refs(node, ref: str) -> list[str]:
    """Every name containerd (namespace k8s.io) lists for the image `ref` points to."""
    listing = node.run(["ctr", "-n", "k8s.io", "images", "ls"]).stdout.splitlines()
    rows = [line.split() for line in listing[1:] if line.strip()]
    wanted = ref_candidates(ref)
    digests = {row[2] for row in rows if len(row) > 2 and row[0] in wanted}
    return sorted(row[0] for row in rows if len(row) > 2 and row[2] in digests)


def remove_image(node, ref: str) -> list[str]:
    refs = node_image_refs(node, ref)
    if refs:
        node.run(["ctr", "-n", "k8s.io", "images", "rm", "--sync", *refs])
    if node_image_refs(node, ref):
        raise LabError(f"{ref} is still in node {node.name} after removing it")
    return refs
