"""hack/setup-host off Debian, on a fake host: a copy of the script in a temp checkout whose PATH
holds stubs only (python3 that makes a stub venv, docker whose engine answers or not, and
apt-get, sudo, brew, dnf, pacman, apk, zypper that record any call), a fake os-release
(WASM_LAB_OS_RELEASE) and, for macOS, a `uname` that says Darwin. It uses what is there, says in
one line per missing tool how to install it with that system's own tool, never calls an
installer, still makes the .venv, and exits 1 when a tool is missing. On Debian (and a Linux it
does not know that has apt-get) it goes on to its own installs, here a recording setup-docker."""
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import lab
from lab.artifacts.host import version_tuple

REPO = Path(lab.__file__).resolve().parents[1]
SETUP_HOST = REPO / "hack" / "setup-host"
INSTALLERS = ("apt-get", "sudo", "brew", "dnf", "pacman", "apk", "zypper", "doas")
RECORDER = '#!/bin/sh\necho "${0##*/} $*" >> "$FAKE_LOG"\n'
# python3 -m venv DIR makes DIR/bin/python, a stub that records how it was called (pip installs).
FAKE_PYTHON3 = RECORDER + """if [ "$1 $2" = "-m venv" ]; then
  /bin/mkdir -p "$3/bin"; printf '%s' "$FAKE_RECORDER" > "$3/bin/python"; /bin/chmod +x "$3/bin/python"
fi
"""
FAKE_DOCKER = RECORDER + 'exit "$FAKE_ENGINE_STATUS"\n'
FAKE_UNAME_DARWIN = "#!/bin/sh\necho Darwin\n"
OS_RELEASES = {
    "fedora": 'NAME="Fedora Linux"\nID=fedora\n',
    "rocky": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n',
    "arch": 'NAME="Arch Linux"\nID=arch\n',
    "manjaro": 'NAME="Manjaro Linux"\nID="manjaro"\nID_LIKE="arch"\n',
    "alpine": 'NAME="Alpine Linux"\nID=alpine\n',
    "opensuse": 'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\n',
    "ubuntu": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n',
    "unknown": 'NAME="Some Linux"\nID=somelinux\n',
}


def write(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def fake_host(tmp_path, tools=(), darwin=False, release=None, apt_get=True):
    """(checkout, environment) of a host whose PATH has the real dirname and sed, recording
    installers, python3, and the named tools (docker among them answers per FAKE_ENGINE_STATUS)."""
    checkout, bin_dir = tmp_path / "checkout", tmp_path / "bin"
    (checkout / "hack").mkdir(parents=True)
    bin_dir.mkdir()
    shutil.copy(SETUP_HOST, checkout / "hack" / "setup-host")
    (checkout / "requirements.txt").write_text("")
    write(checkout / "hack" / "setup-docker", RECORDER)
    for real in ("dirname", "sed", "id") + (() if darwin else ("uname",)):
        (bin_dir / real).symlink_to(shutil.which(real))
    if darwin:
        write(bin_dir / "uname", FAKE_UNAME_DARWIN)
    for installer in INSTALLERS:
        if installer != "apt-get" or apt_get:
            write(bin_dir / installer, RECORDER)
    write(bin_dir / "python3", FAKE_PYTHON3)
    for tool in tools:
        write(bin_dir / tool, FAKE_DOCKER if tool == "docker" else RECORDER)
    os_release = tmp_path / "os-release"
    if release:
        os_release.write_text(OS_RELEASES[release])
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "FAKE_LOG": str(tmp_path / "calls"),
           "FAKE_RECORDER": RECORDER, "FAKE_ENGINE_STATUS": "0", "WASM_LAB_OS_RELEASE": str(os_release),
           "WASM_LAB_SBIN_DIRS": ""}
    return checkout, env


def setup_host(checkout, env, *args, engine_status=0):
    done = subprocess.run([shutil.which("bash"), str(checkout / "hack" / "setup-host"), *args],
                          env={**env, "FAKE_ENGINE_STATUS": str(engine_status)},
                          capture_output=True, text=True, timeout=60)
    log = Path(env["FAKE_LOG"])
    return done, log.read_text().splitlines() if log.exists() else []


def installer_calls(calls):
    return [c for c in calls if c.split()[0] in INSTALLERS]


def test_macos_says_one_brew_line_per_missing_tool_and_calls_no_installer(tmp_path):
    checkout, env = fake_host(tmp_path, darwin=True)
    done, calls = setup_host(checkout, env, "lab")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "setup-host: docker is missing: brew install --cask docker (Docker Desktop), "
        "or brew install colima docker (Colima)",
        "setup-host: kind is missing: brew install kind",
        "setup-host: debootstrap is missing: none on macOS: the lab builds its Debian-package images "
        "on a Linux host (docs/macos.md)",
    ]
    assert installer_calls(calls) == []
    assert "setup-docker" not in " ".join(calls)


def test_the_venv_is_made_with_the_python_packages_even_when_tools_are_missing(tmp_path):
    checkout, env = fake_host(tmp_path, darwin=True)
    _, calls = setup_host(checkout, env, "lab")
    venv = checkout / ".venv"
    assert f"python3 -m venv {venv}" in calls
    assert ("python -m pip install --quiet --disable-pip-version-check -r "
            f"{checkout / 'requirements.txt'}") in calls


def test_macos_with_docker_kind_and_an_answering_engine_is_ready(tmp_path):
    checkout, env = fake_host(tmp_path, tools=("docker", "kind", "debootstrap"), darwin=True)
    done, calls = setup_host(checkout, env, "lab")
    assert (done.returncode, done.stderr) == (0, "")
    assert installer_calls(calls) == []


def test_a_docker_whose_engine_does_not_answer_is_told_how_to_start_it(tmp_path):
    checkout, env = fake_host(tmp_path, tools=("docker", "kind", "debootstrap"), darwin=True)
    done, _ = setup_host(checkout, env, "lab", engine_status=1)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "setup-host: a Docker engine that answers is missing: start Docker Desktop, or run: colima start"]


@pytest.mark.parametrize("release, docker, kind", [
    ("fedora", "sudo dnf install moby-engine", "sudo dnf install golang, then go install sigs.k8s.io/kind@v0.33.0"),
    ("rocky", "sudo dnf install docker-ce, after adding Docker's repository (docs.docker.com/engine/install)",
     "sudo dnf install golang, then go install sigs.k8s.io/kind@v0.33.0"),
    ("arch", "sudo pacman -S docker", "sudo pacman -S go, then go install sigs.k8s.io/kind@v0.33.0"),
    ("manjaro", "sudo pacman -S docker", "sudo pacman -S go, then go install sigs.k8s.io/kind@v0.33.0"),
    ("alpine", "doas apk add docker", "doas apk add go, then go install sigs.k8s.io/kind@v0.33.0"),
    ("opensuse", "sudo zypper install docker", "sudo zypper install go, then go install sigs.k8s.io/kind@v0.33.0"),
])
def test_other_linux_systems_get_their_own_installer_and_apt_get_is_never_called(tmp_path, release, docker, kind):
    checkout, env = fake_host(tmp_path, release=release, tools=("debootstrap",), apt_get=True)
    done, calls = setup_host(checkout, env, "lab")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"setup-host: docker is missing: {docker}",
                                        f"setup-host: kind is missing: {kind} (and put ~/go/bin on PATH)"]
    assert installer_calls(calls) == []
    assert "setup-docker" not in " ".join(calls)


def test_without_apt_get_every_missing_tool_is_one_line_and_the_tests_ones_too(tmp_path):
    checkout, env = fake_host(tmp_path, release="fedora", apt_get=False)
    done, calls = setup_host(checkout, env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "setup-host: docker is missing: sudo dnf install moby-engine",
        "setup-host: kind is missing: sudo dnf install golang, then go install sigs.k8s.io/kind@v0.33.0 "
        "(and put ~/go/bin on PATH)",
        "setup-host: debootstrap is missing: sudo dnf install debootstrap",
        "setup-host: docker-registry is missing: none the tests know: they use Debian's docker-registry, "
        "so run them on Debian (as CI does)",
    ]
    assert installer_calls(calls) == []


def test_without_python3_it_says_so_in_one_line_and_makes_no_venv(tmp_path):
    checkout, env = fake_host(tmp_path, release="arch", apt_get=False)
    (Path(env["PATH"]) / "python3").unlink()
    done, _ = setup_host(checkout, env, "lab")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["setup-host: python3 is missing: sudo pacman -S python"]
    assert not (checkout / ".venv").exists()


def test_a_linux_it_does_not_know_without_apt_get_gets_a_plain_line(tmp_path):
    checkout, env = fake_host(tmp_path, release="unknown", tools=("docker", "debootstrap"), apt_get=False)
    done, _ = setup_host(checkout, env, "lab")
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["setup-host: kind is missing: install kind with this system's package manager"]


def test_a_linux_it_does_not_know_is_told_to_start_its_engine(tmp_path):
    checkout, env = fake_host(tmp_path, release="unknown", tools=("docker", "kind", "debootstrap"), apt_get=False)
    done, _ = setup_host(checkout, env, "lab", engine_status=1)
    assert done.stderr.splitlines() == ["setup-host: a Docker engine that answers is missing: start the Docker engine"]


@pytest.mark.parametrize("release", ["ubuntu", "unknown"])
def test_debian_and_an_unknown_linux_with_apt_get_take_the_debian_path(tmp_path, release):
    checkout, env = fake_host(tmp_path, release=release, tools=("kind", "debootstrap", "docker-registry"))
    done, calls = setup_host(checkout, env)
    assert (done.returncode, done.stderr) == (0, "")
    assert "setup-docker " in calls  # the Debian path ends in hack/setup-docker
    assert installer_calls(calls) == []


def test_the_kind_version_it_names_is_the_newest_the_lab_has_node_images_for():
    catalog = yaml.safe_load((REPO / "lab" / "defaults" / "artifacts.yaml").read_text())
    newest = max(catalog["kind-node-images"], key=version_tuple)
    assert f"kind_version={newest}\n" in SETUP_HOST.read_text()
