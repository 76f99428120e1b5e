"""The lab's tasks run the way a user runs them: `python -m invoke` in a process of their own; and
the commands a test reads the system's state with."""
import os
import shlex
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def invoke(*args, env, timeout=1800) -> tuple[subprocess.CompletedProcess, float]:
    """`invoke ARGS` from the checkout, with `env`; its completed process and how many seconds it took."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return done, time.monotonic() - started


def output(*argv, timeout: float = 300, input: str | bytes | None = None) -> str:
    """The stdout of a command whose answer a test reads as a fact (`kind get clusters`, `kubectl
    get`, `docker exec`). A command that fails fails the test with its stderr: the empty answer of
    a failed command must never read as "nothing there"."""
    argv = tuple(str(a) for a in argv)
    done = subprocess.run(argv, capture_output=True, timeout=timeout, input=input,
                          text=not isinstance(input, bytes))
    stdout, stderr = (done.stdout, done.stderr) if isinstance(done.stdout, str) else \
        (done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}: {stderr[-2000:]}"
    return stdout


def present_in(container: str, *paths: str) -> list[str]:
    """Which of `paths` exist in a container: an absent path is an answer, a failed exec an error."""
    return output("docker", "exec", container, "sh", "-c", 'for p; do if [ -e "$p" ]; then echo "$p"; fi; done',
                  "present", *paths).split()


def kind_clusters() -> list[str]:
    """The kind clusters there are (kind says "No kind clusters found." on stderr when none)."""
    return output("kind", "get", "clusters", timeout=60).split()
