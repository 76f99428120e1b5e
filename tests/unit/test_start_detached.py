"""hack/start-detached, which hack/setup-docker starts dockerd with: the command runs in a session
and process group of its own with stdin from /dev/null, so a hang-up of the shell's session that
started it (the end of a `make up` run) does not reach it or the children it makes, as it reached
docker-proxy. For real: a Python stand-in for dockerd that, like dockerd, takes SIGHUP's default
back, started from a shell in a session of its own, which then hangs up its whole process group."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import lab
from lab.waits import wait_until

START_DETACHED = Path(lab.__file__).resolve().parents[1] / "hack" / "start-detached"
STAND_IN = ("import os, signal, sys, time; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
            "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(600)")


@pytest.fixture
def detached(tmp_path):
    """(the stand-in's pid, the launching shell's pid) after the shell hung up its own group."""
    pidfile = tmp_path / "pid"
    script = (f'bash "$0" "$1" {sys.executable} -c "$2" "$3"; '
              'while [ ! -s "$3" ]; do sleep 0.1; done; echo "shell $$"; kill -HUP 0')
    shell = subprocess.Popen(["bash", "-c", script, str(START_DETACHED), str(tmp_path / "log"), STAND_IN, str(pidfile)],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    out, _ = shell.communicate(timeout=60)
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text(), 30, "the stand-in never wrote its pid"))
    yield pid, int(out.split()[1])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_command_has_a_session_of_its_own_and_no_stdin(detached):
    pid, shell = detached
    assert os.getsid(pid) == pid and os.getpgid(pid) == pid
    assert os.getsid(pid) != shell
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"


def test_the_command_outlives_the_hang_up_of_the_session_that_started_it(detached):
    pid, _ = detached
    assert state_of(pid) not in ("Z", "X")
