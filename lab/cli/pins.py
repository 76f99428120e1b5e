"""invoke lab.pins: every pin held against upstream's own release metadata (lab/upstream.py,
lab/pins.py); added to the lab collection by lab/cli/__init__.py."""
import json

from invoke import task
from invoke.exceptions import Exit
from rich.table import Table

from lab.cli.common import fail_on_errors, print_table
from lab.cli.lab import MIRROR_HELP, SPEC_HELP, load_spec
from lab.errors import InputError
from lab.proc import stdout

PIN_STYLES = {"current": "green", "behind": "yellow", "unconfirmed": "cyan", "mismatch": "bold red",
              "unreachable": "magenta"}


@task(iterable=["mirror"], help={
    **SPEC_HELP,
    **MIRROR_HELP,
    "check": "compare every pin with upstream's own release metadata (through the mirrors); changes nothing",
    "write": "check, then write into lab.lock the newer pins upstream's own checksums confirm, showing the diff",
    "json": "print JSON: one row per pin, with the lab.lock entry --write would write",
})
def pins(c, check=False, write=False, config=None, name=None, mirror=None, json_=False):
    """Are the pins current? Each against upstream's releases and checksums; exit 1 when one is not."""
    from lab import upstream

    with fail_on_errors():
        if check == write:
            raise InputError("pins: give one of --check (report) or --write (report, then update lab.lock)")
        spec = load_spec(config, name=name, mirrors=mirror)
        rows = upstream.check(spec)
        written, left, diff = upstream.write(spec, rows) if write else ([], [], "")
    if json_:
        print(json.dumps({"lock": spec.lock, "rows": rows, "written": written, "left": left, "diff": diff},
                         indent=2))
    else:
        table = Table("pin", "current", "newest upstream", "status", "note", title=f"lab.pins (lock {spec.lock})")
        for row in rows:
            style = PIN_STYLES[row["status"]]
            note = row["note"] + ("; written into lab.lock" if row["pin"] in written else "")
            table.add_row(row["pin"], row["current"], row["upstream"], f"[{style}]{row['status']}[/{style}]", note)
        print_table(table)
        for row in rows:
            if row["status"] == "mismatch":
                stdout.print(f"[bold red]ALARM[/bold red] {row['pin']}: {row['note']}", soft_wrap=True)
        if diff:
            stdout.print(diff, soft_wrap=True, markup=False, highlight=False)
        for line in left:
            stdout.print(f"left as it is: {line}", soft_wrap=True, markup=False)
        if write:
            stdout.print(f"wrote {len(written)} pin(s) into {spec.lock}" if written else f"{spec.lock} unchanged",
                         soft_wrap=True, markup=False)
    open_rows = [r for r in rows if r["status"] != "current" and r["pin"] not in written]
    if open_rows:
        raise Exit(f"{len(open_rows)} pin(s) not current: "
                   + ", ".join(f"{r['pin']} {r['status']}" for r in open_rows), code=1)
