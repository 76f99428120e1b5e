"""invoke images.build: the httpbin workload's images, one per variant."""
from invoke import Collection, task
from invoke.exceptions import Exit
from rich.table import Table

from lab import artifacts, images
from lab.cli.common import fail_on_errors, human_bytes, mode_override, print_table
from lab.cli.lab import MODE_HELP, SPEC_HELP, load_spec
from lab.errors import InputError


@task(iterable=["variant"], help={
    "config": SPEC_HELP["config"],
    **MODE_HELP,
    "variant": f"build only this variant; may be repeated ({', '.join(images.IMAGE_TARGETS)})",
    "log": "append the full docker build output to this file",
})
def build(c, variant=None, config=None, offline=False, online=False, log=None):
    """Build wasm-lab/httpbin:<variant> images and show each one's size and build time."""
    with fail_on_errors():
        spec = load_spec(config, offline=mode_override(offline, online))
        variants = tuple(variant or images.IMAGE_TARGETS)
        unknown = [v for v in variants if v not in images.IMAGE_TARGETS]
        if unknown:
            raise InputError(f"variant: {unknown[0]!r} is not allowed; choose one of: {', '.join(images.IMAGE_TARGETS)}")
        resolved = artifacts.resolve(spec, (), variants)
        for arg, ref in resolved.base_images.items():
            print_table(f"[dim]{arg}: {ref} ({resolved.origins[artifacts.BASE_IMAGE_ARTIFACTS[arg]]})[/dim]")
        try:
            built = images.build(list(variants), images.BaseImages(resolved.base_images, identities=resolved.base_identities), log=log)
        except (images.ImageBuildError, ValueError) as error:
            raise Exit(f"error: {error}", code=1)
    table = Table("variant", "id", "size", "build time", ".wasm sha256",
                  title=f"images.build ({images.REPOSITORY}:<variant>)")
    for b in built:
        table.add_row(b.variant, b.id.removeprefix("sha256:")[:12], human_bytes(b.size), f"{b.seconds:.0f}s",
                      (b.wasm_sha256 or "")[:16])
    print_table(table)
    for engine, same in images.wasm_identical(built).items():
        if same is not None:
            print_table(f"{engine}: embed and runtime .wasm {'identical' if same else 'DIFFER'}")


ns = Collection("images", build)
