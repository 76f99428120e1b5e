"""The lab's tasks run the way a user runs them: `python -m invoke` in a process of their own."""
import os
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
