"""Values that become folder, object or TOML names are checked whole: a pattern ending in `$`
under re.match lets a trailing newline through ("lab\\n" became a state folder and a namespace).
The environment variables the lab reads are checked before a command does anything, and "Docker
does not answer" is said in words. The command-line side of each (exit 2, one line, nothing
created) is in tests/unit/test_bad_input_table.py; these are the validators themselves."""
import pytest

from lab import containerd
from lab.bench.settings import check_settings
from lab.containerd.config import toml_key
from lab.errors import InputError, check_environment, docker_not_answering
from lab.mirrors import parse as parse_mirrors
from lab.spec import load as load_spec


@pytest.mark.parametrize("setting, value", [
    ("name", "lab\n"), ("name", "lab\nx"), ("namespace", "wasm-lab\n"), ("kubernetes", "v1.34.2\n"),
    ("kit_from", "http://trainer:8780/\n"),
])
def test_a_value_with_a_trailing_newline_is_refused(empty_cwd, setting, value):
    with pytest.raises(InputError, match=f"^{setting}: "):
        load_spec(None, {setting: value})


@pytest.mark.parametrize("line", ["results_dir: null", "results_dir: ' '", "results_dir: 7"])
def test_results_dir_is_a_folder_path(empty_cwd, line):
    (empty_cwd / "lab.yaml").write_text(line + "\n")
    with pytest.raises(InputError, match="^results_dir: .* is not a folder path"):
        load_spec(None)


@pytest.mark.parametrize("handler", ["wasmedge\n", "wasmedge\n[plugins]"])
def test_a_runtime_handler_is_a_whole_dns_label(handler):
    with pytest.raises(ValueError, match="must be a DNS label"):
        containerd.RuntimeEntry(handler=handler, runtime_type="io.containerd.wasmedge.v1")
    with pytest.raises(containerd.ConfigError, match="is not a DNS label"):
        containerd.plan_uninstall("/etc/containerd/config.toml", "version = 2\n", handler)


def test_a_toml_key_with_a_newline_is_quoted_not_written_bare():
    assert toml_key("SystemdCgroup") == "SystemdCgroup"
    assert toml_key("x\n[evil]") == '"x\\n[evil]"'


@pytest.mark.parametrize("mirror", ["https://github.com=http://mirror/\nx", "docker.io=harbor\nx"])
def test_a_mirror_is_a_whole_url_or_registry(mirror):
    with pytest.raises(InputError, match="^mirrors: "):
        parse_mirrors([mirror])


@pytest.mark.parametrize("variable", ["WASM_LAB_STATE_DIR", "WASM_LAB_KIT_DIR", "WASM_LAB_DOWNLOAD_DIR"])
def test_the_labs_folder_variables_are_checked_before_anything(monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "")
    with pytest.raises(InputError, match=f"^{variable}: empty; unset it or name a folder$"):
        check_environment()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(variable, str(tmp_path / "a-file"))
    with pytest.raises(InputError, match=f"^{variable}: .* is not a folder"):
        check_environment()
    monkeypatch.setenv(variable, str(tmp_path / "not-yet"))
    check_environment()
    assert not (tmp_path / "not-yet").exists()


def test_the_bench_numbers_name_their_option():
    with pytest.raises(InputError, match=r"^repeat: 'abc' is not a whole number from 1 to 50$"):
        check_settings("abc", [], 10, 1)
    with pytest.raises(InputError, match=r"^duration: 'soon' is not a number of seconds"):
        check_settings(3, [], 10, "soon")


def test_docker_not_answering_is_said_in_words(monkeypatch):
    import docker

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(docker.errors.DockerException) as raised:
        docker.from_env()
    assert docker_not_answering(raised.value) == ("no Docker engine answers at unix:///nonexistent/docker.sock "
                                                  "(no socket there); start Docker, or run: bash hack/setup-host")


def test_a_docker_socket_that_refuses_the_user_says_how_to_get_in(monkeypatch):
    import docker
    import requests

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    try:
        try:
            raise PermissionError(13, "Permission denied")
        except PermissionError as denied:
            raise requests.ConnectionError(denied) from denied
    except requests.ConnectionError as connection:
        error = docker.errors.DockerException("Error while fetching server API version")
        error.__cause__ = connection
    assert docker_not_answering(error) == ("Docker at unix:///var/run/docker.sock refuses this user: add it to the "
                                           "docker group (then log in again), or run as root")


def test_other_errors_keep_their_own_words():
    import docker

    assert docker_not_answering(docker.errors.APIError("500 Server Error")) is None
    assert docker_not_answering(ValueError("x")) is None
