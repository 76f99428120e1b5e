"""invoke images.build: the httpbin workload's images, one per variant."""
from invoke import Collection, task
from rich.table import Table

from lab import images
from lab.cli.common import fail_on_errors, human_bytes, print_table


@task(iterable=["variant"], help={
    "variant": f"build only this variant; may be repeated ({', '.join(images.VARIANTS)})",
    "kit": "base images from the offline kit where it has them (default); --no-kit: upstream only",
    "log": "append the full docker build output to this file",
})
def build(c, variant=None, kit=True, log=None):
    """Build wasm-lab/httpbin:<variant> images and show each one's size and build time."""
    with fail_on_errors():
        try:
            bases = images.base_images(None if kit else False)
            for arg, origin in bases.origins.items():
                print_table(f"[dim]{arg}: {bases.images.get(arg) or '-'} ({origin})[/dim]")
            built = images.build(variant or None, bases=bases, log=log)
        except (images.ImageBuildError, ValueError) as error:
            from invoke.exceptions import Exit
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
