"""invoke lab.up / lab.plan / lab.down / lab.status / lab.doctor / lab.diagnose / lab.bench /
lab.docker-check"""
import json
import time
from pathlib import Path

from invoke import Collection, task
from invoke.exceptions import Exit
from rich.table import Table

from lab import catalog, engines, lifecycle, redact
from lab import doctor as checkup
from lab import spec as lab_spec
from lab.artifacts import MODE_NAMES
from lab.artifacts import plan as artifact_plan
from lab.artifacts.host import ARCH_ALIASES, ARCHES, host_arch
from lab.cli.common import fail_on_errors, mode_override, print_table
from lab.errors import InputError
from lab.proc import stdout

RUNTIME_HELP = f"{' or '.join(catalog.load().runtimes)}; may be repeated (default: wasmedge)"
SPEC_HELP = {
    "config": "a lab.yaml with settings (default: ./lab.yaml when present)",
    "name": "lab name: cluster, kubeconfig and state folder",
}
MODE_HELP = {
    "offline": "only the offline kit (built here from package registries), never upstream",
    "online": "only pinned upstream artifacts (through mirrors), never the kit's long builds",
}
MIRROR_HELP = {"mirror": "FROM=TO: https://github.com=URL or docker.io=HOST[:PORT][/PATH]; may be repeated"}
PROVIDER_HELP = {
    "provider": "kind (default), minikube, or existing: a cluster you already have (docs/providers.md)",
    "context": "provider existing: the kubeconfig context of that cluster",
}


def load_spec(config=None, **overrides):
    return lab_spec.load(config, overrides)


@task(iterable=["runtime", "mirror"], help={
    **SPEC_HELP,
    **PROVIDER_HELP,
    **MODE_HELP,
    **MIRROR_HELP,
    "runtime": RUNTIME_HELP,
    "workers": "number of wasm worker nodes",
    "adopt": "take over a same-named cluster, RuntimeClass or shim file the lab did not create (backed up first)",
    "kit_from": "a kit bundle to import first (kit.export FILE, its URL, or a kit.serve address such as "
                "http://192.168.1.10:8780); implies --offline",
    "kit_sha256": "the bundle's sha256, or the fingerprint kit.serve shows (default: a URL's is trusted on "
                  "first use)",
})
def up(c, runtime=None, config=None, name=None, offline=False, online=False, mirror=None, workers=None,
       provider=None, context=None, adopt=False, kit_from=None, kit_sha256=None):
    """Create the lab: cluster, wasm runtimes, workload variants, and a verified comparison."""
    with fail_on_errors():
        spec = load_spec(config, runtimes=runtime, name=name, workers=workers, offline=mode_override(offline, online),
                         mirrors=mirror, provider=provider, context=context, adopt=adopt or None, kit_from=kit_from,
                         kit_sha256=kit_sha256)
        started = time.monotonic()
        ctx = lifecycle.up(spec)
    assert ctx.cluster is not None, "lab.up ran its cluster action"
    total = time.monotonic() - started  # actions side by side: not the sum of their times
    stdout.print(f"[bold green]lab {spec.name} is up[/bold green] in {total:.0f}s: "
                 + ", ".join(f"{v} → http://{ctx.cluster.check_host}:{spec.host_port(v)}" for v in spec.variants))


@task(iterable=["runtime", "mirror", "arch"], help={
    **SPEC_HELP,
    **MODE_HELP,
    **MIRROR_HELP,
    "runtime": RUNTIME_HELP,
    "provider": PROVIDER_HELP["provider"],
    "arch": "x86_64 or aarch64; may be repeated (default: this machine's)",
    "json": "print JSON: the mode, the lock and one row per artifact and architecture, every pin in full",
})
def plan(c, runtime=None, config=None, name=None, offline=False, online=False, mirror=None, provider=None,
         arch=None, json_=False):
    """What lab.up would fetch or build, from where, with which pin, and why; changes nothing."""
    with fail_on_errors():
        spec = load_spec(config, runtimes=runtime, name=name, offline=mode_override(offline, online),
                         mirrors=mirror, provider=provider)
        rows = artifact_plan.plan(spec, spec.runtimes, spec.variants, spec.provider, _arches(arch))
    mode = MODE_NAMES[spec.offline]
    failing = [f"{r['artifact']}@{r['arch']}" for r in rows if r["note"].endswith("FAILS")]
    if json_:
        print(json.dumps({"mode": mode, "lock": spec.lock, "fails": failing, "rows": rows}, indent=2))
    else:
        table = Table("artifact", "arch", "origin", "from", "pin", "engine", "note",
                      title=f"lab.plan ({mode}; lock {spec.lock})")
        for row in rows:
            table.add_row(row["artifact"], row["arch"], row["origin"], row["source"], row["pin"], row["engine"],
                          row["note"])
        print_table(table)
    if failing:
        raise Exit(f"lab.up would fail on: {', '.join(failing)}", code=1)


def _arches(values) -> tuple[str, ...]:
    if not values:
        return (host_arch(),)
    unknown = [a for a in values if a not in ARCH_ALIASES]
    if unknown:
        raise InputError(f"arch: {unknown[0]!r} is not allowed; choose one of: {', '.join(ARCHES)}")
    return tuple(dict.fromkeys(ARCH_ALIASES[a] for a in values))


@task(help={**SPEC_HELP, **PROVIDER_HELP,
            "purge": "also remove the lab registry's storage, which lab.down otherwise keeps for the next lab.up"})
def down(c, config=None, name=None, provider=None, context=None, purge=False):
    """Remove exactly what the lab created (cluster, kubeconfig, image tags), nothing else; the lab
    registry's storage stays for the next lab.up unless --purge."""
    with fail_on_errors():
        removed = lifecycle.down(load_spec(config, name=name, provider=provider, context=context), purge=purge)
    for item in removed:
        stdout.print(f"removed {item}")
    if not removed:
        stdout.print("nothing to remove")


@task(help={**SPEC_HELP, "json": "print JSON"})
def status(c, config=None, name=None, json_=False):
    """Show the lab: cluster, installed runtimes, variants and the last run's actions."""
    with fail_on_errors():
        info = lifecycle.status(load_spec(config, name=name))
    if json_:
        print(json.dumps(info, indent=2))
        return
    stdout.print(f"lab {info['name']}: cluster {info['cluster']}; runtimes: {', '.join(info['runtimes']) or 'none'}")
    table = Table("variant", "ready", "runs as", "engine", "from", title="variants")
    for variant, ready in info["variants"].items():
        engine = info["engines"].get(variant)
        table.add_row(variant, ready, info["execution"].get(variant, ""), engines.label(engine),
                      f"{engine['artifact']}: {engine['origin']}" if engine else "")
    print_table(table)


@task(name="docker-check", iterable=["runtime", "mirror"], help={
    **SPEC_HELP,
    **MODE_HELP,
    **MIRROR_HELP,
    "runtime": "wasmedge or wasmtime (the containerd shims); may be repeated (default: the lab's runtimes)",
})
def docker_check(c, runtime=None, config=None, name=None, offline=False, online=False, mirror=None):
    """The runtime images under Docker's wasm runtime (docker run --runtime io.containerd.<shim>.v1), with the lab's checks."""
    from lab import docker_check as checker

    with fail_on_errors():
        outcome = checker.run(load_spec(config, runtimes=runtime, name=name, offline=mode_override(offline, online),
                                        mirrors=mirror))
    stdout.print(outcome)


@task(help=SPEC_HELP)
def doctor(c, config=None, name=None):
    """Preflight: Docker, the provider's tools, cgroups, privileged containers, free ports; with the fix for each."""
    with fail_on_errors():
        checks = checkup.preflight(load_spec(config, name=name))
    table = Table("check", "ok", "detail", title="lab.doctor")
    for item in checks:
        table.add_row(item["check"], "[green]✓[/green]" if item["ok"] else "[red]✗[/red]", item["detail"])
    print_table(table)
    if not all(item["ok"] for item in checks):
        raise Exit(code=1)


@task(help={**SPEC_HELP, "output": "folder for the tarball"})
def diagnose(c, config=None, name=None, output="."):
    """Collect the provider's logs, containerd config dumps, runtime and containerd logs, pods and events into a tarball."""
    with fail_on_errors():
        diagnosis = checkup.diagnose(load_spec(config, name=name), Path(output))
    for line in redact.summary(diagnosis.redactions) or ["redacted nothing: no credential found"]:
        stdout.print(line, soft_wrap=True, markup=False)
    stdout.print(f"wrote {diagnosis.bundle} (0600; {checkup.REDACTED_NOTE} inside lists what was redacted)",
                 soft_wrap=True, markup=False)


@task(iterable=["variant", "concurrency", "density", "density_variant"], help={
    **SPEC_HELP,
    "variant": "a deployed variant to measure; may be repeated (default: every deployed variant)",
    "repeat": "cold starts per variant (the first is reported apart; default 5)",
    "concurrency": "wrk connections per load level; may be repeated (default: 1, 4, 16)",
    "requests": "at most this many requests of the host's NodePort client (the reference figure; default 2000)",
    "duration": "seconds per load level (wrk runs whole seconds; default 10)",
    "density": "replicas to scale each variant to for the density measure; may be repeated (default: 10)",
    "density-variant": "only these variants get the density measure; may be repeated (default: every measured one)",
    "quiet-wait": "seconds to wait at most for the machine's load average to settle before measuring (0: none; default 120)",
    "image-removed": "also time one start after removing the image from the node (--no-image-removed skips it)",
    "output": "folder for bench.json, bench.md, bench.html (default: the lab's results_dir)",
    "report": "only re-render bench.md and bench.html from this bench.json",
})
def bench(c, variant=None, repeat=None, concurrency=None, requests=None, duration=None, image_removed=True,
          output=None, report=None, config=None, name=None, density=None, density_variant=None, quiet_wait=None):
    """Measure native against wasm on the running lab: cold start, memory, image size, requests."""
    from lab import bench as lab_bench
    from lab.bench import report as bench_report
    from lab.bench.settings import DEFAULT_CONCURRENCIES, DEFAULT_DENSITY, BenchSettings

    with fail_on_errors():
        if report:
            result, paths = lab_bench.render(Path(report), Path(output) if output else None)
        else:
            # numbers arrive as text (a typed default would make invoke's parser fail with a trace)
            numbers = {key: value for key, value in {"repeat": repeat, "requests": requests, "duration": duration,
                                                     "quiet_wait": quiet_wait}.items() if value is not None}
            try:
                spec = load_spec(config, name=name)
                settings = BenchSettings.checked(variant or None, concurrencies=concurrency or DEFAULT_CONCURRENCIES,
                                                 image_removed=image_removed, output=output,
                                                 density_levels=density or DEFAULT_DENSITY,
                                                 density_variants=density_variant or None, **numbers)
                result, paths = lab_bench.run(spec, settings)
            except KeyboardInterrupt:
                raise Exit("interrupted: every deployment the bench scaled was put back", code=130)
    for table in bench_report.rich_tables(result):
        print_table(table)
    stdout.print("wrote " + ", ".join(str(p) for p in paths.values()))


@task(name="bench-compare", help={
    "base": "the baseline bench.json",
    "other": "the bench.json to compare with it",
})
def bench_compare(c, base, other):
    """Compare two bench results: cold-start medians and throughput agree within 10 %.
    Exits 1 when one differs more; memory, density and the NodePort figure are shown, not judged."""
    from lab import bench as lab_bench
    from lab.bench import compare

    with fail_on_errors():
        a, b = lab_bench.read_result(Path(base), "base"), lab_bench.read_result(Path(other), "other")
    table = Table(title=f"judged: cold-start medians and throughput, {base} vs {other}")
    for column in ("variant", "measure", "base", "other", "change", "agree"):
        table.add_column(column, justify="left" if column in ("variant", "measure") else "right")
    rows = compare.cold_start(a, b) + compare.throughput(a, b)
    for row in rows:
        shown = ("{:.3f} s" if row.unit == "s" else "{:.0f} " + row.unit)
        table.add_row(row.variant, row.measure, shown.format(row.base), shown.format(row.other),
                      "–" if row.change is None else f"{row.change:+.1%}", "yes" if row.agree else "NO")
    print_table(table)
    singles = Table(title="shown, not judged: base, other, other/base")
    for column in ("variant", "measure", "base", "other", "ratio"):
        singles.add_column(column, justify="left" if column in ("variant", "measure") else "right")
    for variant, measure, x, y in compare.singles(a, b):
        ratio = f"{y / x:.2f}" if x and y else "–"
        singles.add_row(variant, measure, *(f"{v:.1f}" if v is not None else "–" for v in (x, y)), ratio)
    print_table(singles)
    disagree = [f"{r.variant} {r.measure}" for r in rows if not r.agree]
    if not rows:
        raise Exit("the two results have no cold start or throughput in common", code=1)
    if disagree:
        raise Exit(f"{len(disagree)} of {len(rows)} measures differ by more than "
                   f"{compare.TOLERANCE:.0%}: {', '.join(disagree)}", code=1)
    stdout.print(f"all {len(rows)} measures agree within {compare.TOLERANCE:.0%}")


ns = Collection("lab", up, plan, down, status, doctor, diagnose, bench, bench_compare, docker_check)
