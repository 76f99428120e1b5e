from pathlib import Path

from lab import httpbin_cases, report
from lab.errors import LabError


def as_row(result) -> dict:
    """One case's outcome as JSON-ready data; `comparable` is what must match across variants."""
    return {"case": result.name, "passed": result.ok, "status": result.status, "seconds": round(result.seconds, 4),
            "detail": "; ".join(result.problems), "comparable": result.comparable()}


class Check:
    name = "check"
    title = "the same requests against every variant through its NodePort, answers compared"

    def execute(self, ctx):
        results = {}
        for variant in ctx.spec.variants:
            base_url = f"http://{ctx.cluster.check_host}:{ctx.spec.host_port(variant)}"
            results[variant] = [as_row(r) for r in httpbin_cases.run_cases(base_url)]
        ctx.results = results
        report.show(results)
        json_path, junit_path = report.write(results, Path(ctx.spec.results_dir), {
            "lab": ctx.spec.name, "runtimes": list(ctx.spec.runtimes), "timings": ctx.timings})
        failed = report.failures(results)
        if failed:
            raise LabError(f"{failed} check(s) failed; details in {json_path} and {junit_path}")
        return f"all checks passed on {len(results)} variants; {json_path}, {junit_path}"
