"""invoke kit.build / kit.status / kit.clean"""
import json

from invoke import Collection, task
from rich import box
from rich.table import Column, Table

from lab import kit
from lab.cli.common import fail_on_errors, human_bytes, print_table, stdout


@task(iterable=["only"], help={
    "only": "build only this artifact (and what it needs); may be repeated",
    "force": "rebuild even when the cached result is current",
})
def build(c, only=None, force=False):
    """Build the offline kit's artifacts from package registries (cached; unchanged runs take seconds)."""
    with fail_on_errors():
        rows = kit.build(only or None, force=force)
    table = Table("artifact", "version", "result", "seconds", title="kit.build")
    for row in rows:
        table.add_row(row["name"], row["version"], row["action"], f"{row['seconds']:.0f}")
    print_table(table)


@task(help={"json": "print machine-readable JSON instead of a table"})
def status(c, json_=False):
    """Show each kit artifact: version, origin, built or not, size, build time."""
    with fail_on_errors():
        rows = kit.status()
    if json_:
        print(json.dumps(rows, indent=2))
        return
    # what each artifact is made from needs room: on a narrow terminal it is left to --json
    with_origin = stdout.width >= 140
    table = Table(Column("artifact", no_wrap=True), "kind", Column("version", overflow="fold", max_width=16), "state", "size",
                  Column("took", justify="right"), *(["origin"] if with_origin else []), title="kit.status",
                  caption=None if with_origin else "what each is built from: kit.status --json", box=box.SIMPLE)
    for row in rows:
        seconds = row["build_seconds"]
        table.add_row(row["name"], row["kind"], row["version"], row["state"], human_bytes(row["size_bytes"]),
                      "" if seconds is None else f"{seconds:.0f}s", *([row["origin"]] if with_origin else []))
    print_table(table)


@task(help={"caches": "also remove build caches (Go/cargo caches, debootstrap trees)"})
def clean(c, caches=False):
    """Remove the kit's images, files and manifest."""
    with fail_on_errors():
        for item in kit.clean(caches=caches):
            print(f"removed {item}")


ns = Collection("kit", build, status, clean)
