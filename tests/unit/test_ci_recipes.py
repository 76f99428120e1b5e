"""The CI recipes in docs/ci: the GitHub workflow passes actionlint (built from its Go module by
hack/setup-host), and every wasm-lab command in both recipes parses against the project's own tasks,
so a renamed task or option breaks here before it breaks a team's nightly run."""
import re
import shlex
import subprocess
from pathlib import Path

import yaml
from invoke.parser import Parser

import tasks
from lab import docker_check, report
from lab import spec as lab_spec
from tests.machine_limits import actionlint_path, require

CI = Path(__file__).resolve().parents[2] / "docs" / "ci"
GITHUB, GITLAB = CI / "github-nightly.yml", CI / "gitlab-nightly.yml"


def actionlint() -> str:
    require("go")
    require("actionlint")
    return actionlint_path()


def test_the_github_workflow_passes_actionlint():
    done = subprocess.run([actionlint(), "-no-color", str(GITHUB)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def commands() -> list[tuple[str, list[str]]]:
    github = yaml.safe_load(GITHUB.read_text())
    gitlab = yaml.safe_load(GITLAB.read_text())
    scripts = [step["run"] for job in github["jobs"].values() for step in job["steps"] if "run" in step]
    scripts += [line for job in gitlab.values() for key in ("before_script", "script", "after_script")
                for line in job.get(key, [])]
    found = []
    for script in scripts:
        for command in re.findall(r"\.venv/bin/invoke ([^;\n]+)", " ".join(script.split("\n"))):
            found.append((script, shlex.split(command.removesuffix("fi").strip())))
    return found


def test_every_lab_command_in_the_recipes_parses_against_the_tasks():
    found = commands()
    assert {argv[0] for _, argv in found} >= {"lab.up", "lab.bench", "lab.down", "lab.diagnose", "kit.import",
                                              "kit.export", "lab.docker-check", "lab.pins"}
    for script, argv in found:
        Parser(contexts=tasks.namespace.to_contexts()).parse_argv(argv)  # raises on an unknown task or option


def test_the_recipes_upload_what_the_lab_writes():
    results = lab_spec.load().results_dir
    gitlab = yaml.safe_load(GITLAB.read_text())["wasm-lab-nightly"]
    assert gitlab["artifacts"]["reports"]["junit"] == [f"{results}/{report.JUNIT_FILE}",
                                                        f"{results}/{docker_check.RESULTS_NAME}.junit.xml"]
    github = yaml.safe_load(GITHUB.read_text())
    uploads = [step["with"]["path"] for step in github["jobs"]["lab"]["steps"]
               if step.get("uses", "").startswith("actions/upload-artifact@")]
    assert uploads == [f"{results}/"]
    pinned = [step["uses"] for step in github["jobs"]["lab"]["steps"] if "uses" in step]
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses) for uses in pinned), pinned
