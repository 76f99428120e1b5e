from concurrent.futures import ThreadPoolExecutor

from lab import catalog, jobs, ownership
from lab.errors import LabError

JOB_IMAGES = "job_images"   # job image target -> the ref the nodes have (workloads.check runs the jobs again)


class RunJobs:
    name = "jobs"
    title = "the WASI job under every runner (natively and per RuntimeClass): exit statuses and output"
    in_cluster = True
    records, notes = (ownership.OWNED, ownership.ADOPTED), (JOB_IMAGES,)
    needs, gives = ("cluster", "kube"), ("jobs",)

    def execute(self, ctx):
        spec, every = ctx.spec, catalog.load()
        runners = every.jobs_for(spec.runtimes)
        refs = {**ctx.state.get(JOB_IMAGES, {}), **{k: v for k, v in ctx.images.items() if k in every.job_images}}
        ctx.state.set(JOB_IMAGES, refs)
        missing = sorted(set(every.job_images_for(spec.runtimes)) - set(refs))
        if missing:
            raise LabError(f"the WASI job's images {', '.join(missing)} were never loaded; run lab.up")
        ownership.claim(ctx, jobs.data_object(spec.namespace))
        bodies = [jobs.job_object(runner, code, refs[every.jobs[runner].image], spec.namespace)
                  for runner in runners for code in jobs.EXIT_CODES]
        names = [body["metadata"]["name"] for body in bodies]

        def replace(body: dict) -> None:
            # a Job's pod template cannot change: the last run's Job goes before this run's is made
            # (deleted in the background it is gone at once; its pod goes later)
            name = body["metadata"]["name"]
            with ctx.state.declared(self):  # a thread of its own: the declaration is per thread
                if ctx.kube.delete_owned("batch/v1", "Job", name, spec.name, spec.namespace):
                    ctx.kube.wait_gone("batch/v1", "Job", name, spec.namespace, every=0.25)
                ownership.claim(ctx, body)

        with ThreadPoolExecutor(max_workers=len(bodies), thread_name_prefix="job") as pool:
            list(pool.map(replace, bodies))  # every Job at once
        finished = jobs.wait_finished(ctx.kube, spec.namespace, names)
        ctx.jobs = {runner: [row for code in jobs.EXIT_CODES for row in jobs.judge(
            code, finished[jobs.job_name(runner, code)], every.jobs[runner].exit_status)] for runner in runners}
        failed = [f"{runner}/{row['case']}" for runner, rows in ctx.jobs.items() for row in rows if not row["passed"]]
        return (f"{len(runners)} runners × exit {' and '.join(map(str, jobs.EXIT_CODES))}: "
                + (f"{len(failed)} failed ({', '.join(failed)}); the check reports them" if failed
                   else "every exit status and output as expected"))

    def undo(self, ctx) -> list[str]:
        return ownership.release(ctx, ("Job",)) + ownership.release(ctx, ("ConfigMap",), names=("wasi-job-data",))
