"""The comparison: a rich table for people, JSON and JUnit XML for CI."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.table import Table

from lab.proc import stdout

REPORT_SCHEMA = 1
JUNIT_FILE = "checks.junit.xml"  # lab.up's, what CI systems read (docs/ci)


def consistency(results: dict[str, list[dict]]) -> dict[str, bool]:
    """Per case: do all variants give the same answer (status and normalised body, the `flavor` field aside)?"""
    per_case: dict[str, set] = {}
    for rows in results.values():
        for row in rows:
            per_case.setdefault(row["case"], set()).add(json.dumps(row.get("comparable"), sort_keys=True))
    return {case: len(answers) == 1 for case, answers in per_case.items()}


def failures(results: dict[str, list[dict]]) -> int:
    same = consistency(results)
    return sum(not row["passed"] for rows in results.values() for row in rows) + sum(not ok for ok in same.values())


def show(results: dict[str, list[dict]], execution: dict[str, str] | None = None,
         title: str = "httpbin checks: variant × case", engines: dict[str, str] | None = None) -> None:
    """The variant × case table (or runner × case, for the WASI job); `execution` (column → how
    its code runs) and `engines` (column → the engine and version it ran on) head the columns."""
    variants = list(results)
    same = consistency(results)
    table = Table(title=title, show_lines=False)
    table.add_column("case")
    for variant in variants:
        table.add_column(variant, justify="center")
    table.add_column("same answer", justify="center")
    heads = [(label, values) for label, values in (("runs as", execution), ("engine", engines)) if values]
    for index, (label, values) in enumerate(heads):
        table.add_row(f"[dim]{label}[/dim]", *(f"[dim]{values.get(v, '')}[/dim]" for v in variants), "",
                      end_section=index == len(heads) - 1)
    cases = [row["case"] for row in next(iter(results.values()), [])]
    for case in cases:
        cells = []
        for variant in variants:
            row = next((r for r in results[variant] if r["case"] == case), None)
            passed = "[yellow]✓ known[/yellow]" if row and row.get("known") else "[green]✓[/green]"
            cells.append(passed if row and row["passed"] else "[red]✗[/red]")
        table.add_row(case, *cells, "[green]✓[/green]" if same.get(case) else "[red]✗[/red]")
    totals = [f"{sum(r['passed'] for r in results[v])}/{len(results[v])}" for v in variants]
    table.add_row("[bold]passed[/bold]", *totals, f"{sum(same.values())}/{len(same)}")
    stdout.print(table)
    for column, rows in results.items():
        for row in rows:
            if row.get("known"):
                stdout.print(f"[yellow]known[/yellow] {column} / {row['case']}: {row['detail']}", soft_wrap=True)


def _suites(suites: ET.Element, results: dict[str, list[dict]], kind: str, prefix: str, differ: str) -> None:
    """One JUnit testsuite per column and one for the cases whose answers differ between columns."""
    for column, rows in results.items():
        suite = ET.SubElement(suites, "testsuite", name=f"{prefix}{column}", tests=str(len(rows)),
                              failures=str(sum(not r["passed"] for r in rows)))
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=f"{kind}.{column}", name=row["case"])
            if not row["passed"]:
                ET.SubElement(case, "failure", message=row.get("detail", "")[:500])
    same = consistency(results)
    suite = ET.SubElement(suites, "testsuite", name=f"{prefix}consistency", tests=str(len(same)),
                          failures=str(sum(not ok for ok in same.values())))
    for name, ok in same.items():
        element = ET.SubElement(suite, "testcase", classname=f"{kind}.consistency", name=name)
        if not ok:
            ET.SubElement(element, "failure", message=differ)


def write(results: dict[str, list[dict]], directory: Path, meta: dict,
          jobs: dict[str, list[dict]] | None = None, name: str = "checks") -> tuple[Path, Path]:
    """<name>.json and <name>.junit.xml (checks.json and JUNIT_FILE for lab.up): the HTTP checks
    per variant and, when they ran, the WASI job's per runner (`jobs`). `meta` says per variant
    how its code runs (`execution`) and the engine it ran on (`engines`: {name, version, artifact,
    origin}, null for native)."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    body = {"schema": REPORT_SCHEMA, **meta, "results": results, "consistent": consistency(results),
            "failures": failures(results) + failures(jobs or {})}
    if jobs:
        body["jobs"] = {"results": jobs, "consistent": consistency(jobs), "failures": failures(jobs)}
    json_path.write_text(json.dumps(body, indent=2) + "\n")
    suites = ET.Element("testsuites", name="wasm-lab")
    _suites(suites, results, "httpbin", "", "variants answered differently (apart from the `flavor` field)")
    if jobs:
        _suites(suites, jobs, "wasi-job", "wasi-job ", "runners printed or exited differently")
    junit_path = directory / f"{name}.junit.xml"
    ET.ElementTree(suites).write(junit_path, encoding="utf-8", xml_declaration=True)
    return json_path, junit_path
