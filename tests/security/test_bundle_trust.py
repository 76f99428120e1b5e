"""Where a bundle comes from: a URL's digest is pinned (--sha256, whole or the fingerprint kit.serve
shows) or trusted on first use and then held to; redirects stay on the origin the user named;
what a server sends is bounded; a server's odd answers are one line. Servers of the test's own on
127.0.0.1 play the attacker; the laptop's kit and state folders are the test's."""
import http.server
import json

import pytest

from lab import spec as lab_spec
from lab.actions.artifacts import ResolveArtifacts
from lab.errors import InputError
from lab.kit import trust
from lab.kit.bundle import importer, serve
from lab.kit.store import KitStore
from tests.security.handmade import (  # noqa: F401
    Serving,
    assert_refused_and_nothing_written,
    attendee,
    digest,
    files_entry,
    index_of,
    snapshot,
    write_bundle,
)
from tests.unit.test_bad_input_table import run_cli
from tests.unit.test_kit_recipes import recipe_root  # noqa: F401 (fixture)


def make_bundle(tmp_path, name: str, text: bytes):
    entry, blobs = files_entry({"bin/tool": text})
    path = write_bundle(tmp_path / name, index_of(entry), blobs)
    return path, digest(path.read_bytes())


@pytest.fixture
def served(attendee, tmp_path):  # noqa: F811
    """kit.serve of a hand-made bundle on 127.0.0.1: (address, its sha256, the server)."""
    path, hex_digest = make_bundle(tmp_path, "kit.tar", b"#!/bin/sh\necho trainer\n")
    serving = Serving(serve.server(path, "127.0.0.1", 0))
    yield serving.address, hex_digest, serving.httpd
    serving.close()


def serve_instead(httpd, path):
    """Make a running kit.serve serve another bundle at the same address (a new export, or an attacker)."""
    fresh = serve.server(path, "127.0.0.1", 0)
    httpd.RequestHandlerClass.bundle = path
    httpd.RequestHandlerClass.extras = fresh.RequestHandlerClass.extras
    fresh.server_close()


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each path from `routes`: (status, headers, body); with no Content-Length header given,
    the body ends when the connection closes. Records the paths asked for."""

    routes: dict
    asked: list

    def do_GET(self):
        self.asked.append(self.path)
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def scripted():
    servers = []

    def start(routes: dict) -> Serving:
        handler = type("Handler", (Scripted,), {"routes": routes, "asked": []})
        servers.append(Serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)))
        return servers[-1]

    yield start
    for serving in servers:
        serving.close()


def body(data: bytes, status: int = 200) -> tuple:
    return status, {"Content-Length": str(len(data))}, data


def test_without_a_pin_the_first_digest_is_said_recorded_and_a_different_one_refused(served, attendee, tmp_path,  # noqa: F811
                                                                                      capsys):
    address, first, httpd = served
    assert [row["action"] for row in importer.import_bundle(address, store=attendee)] == ["imported"]
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("kit.import")]
    assert said == [f"kit.import: {address}/kit.tar: sha256 not pinned (no --sha256); trusting "
                    f"{trust.fingerprint(first)} on first use, recorded in {tmp_path / 'state' / 'kit-trust.json'}; "
                    "check it against the fingerprint kit.serve shows"]
    assert trust.trusted(f"{address}/kit.tar") == first

    path, second = make_bundle(tmp_path, "other.tar", b"#!/bin/sh\necho someone else\n")
    serve_instead(httpd, path)
    laptop = KitStore(tmp_path / "kit2")  # a kit that needs the bundle again
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(address, store=laptop),
        rf"^kit bundle {address}/kit.tar: its sha256 is now {trust.fingerprint(second)}…, but "
        rf"{trust.fingerprint(first)}… was trusted on first use \(.*kit-trust.json\); if the trainer shows the new "
        r"fingerprint, pass it with --sha256: refused, nothing was imported$", tmp_path)

    rows = importer.import_bundle(address, trust.fingerprint(second), store=laptop)  # told: pinned
    assert [row["action"] for row in rows] == ["imported"] and trust.trusted(f"{address}/kit.tar") == second
    assert "not pinned" not in capsys.readouterr().err


def test_a_pin_that_does_not_match_is_refused(served, attendee, tmp_path):  # noqa: F811
    address, hex_digest, _ = served
    wrong = "0123456789abcdef" if not hex_digest.startswith("0123") else "fedcba9876543210"
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(address, wrong, store=attendee),
        rf"^kit bundle {address}/kit.tar: its sha256 {trust.fingerprint(hex_digest)}… does not begin with the "
        rf"pinned {trust.fingerprint(wrong)}: refused, nothing was imported$", tmp_path)
    whole = "f" * 64 if hex_digest != "f" * 64 else "e" * 64
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(address, whole, store=attendee),
        rf"^kit bundle {address}/kit.tar: sha256 {hex_digest}, expected {whole}: refused", tmp_path)
    assert trust.trusted(f"{address}/kit.tar") is None
    rows = importer.import_bundle(address, trust.fingerprint(hex_digest).upper(), store=attendee)
    assert [row["action"] for row in rows] == ["imported"]


def test_a_pin_is_checked_for_a_file_too(attendee, tmp_path):  # noqa: F811
    path, hex_digest = make_bundle(tmp_path, "kit.tar", b"#!/bin/sh\necho usb stick\n")
    assert_refused_and_nothing_written(
        lambda: importer.import_bundle(str(path), "abcd-ef01-2345-6789", store=attendee),
        rf"sha256 {hex_digest}, expected abcd-ef01-2345-6789: refused", tmp_path)


@pytest.mark.parametrize("value", ["xyz", "0123-4567", "g" * 64, "0" * 65, "../" * 8])
def test_a_pin_that_is_not_hex_is_bad_input(attendee, value, monkeypatch, capsys, tmp_path):  # noqa: F811
    with pytest.raises(InputError, match=r"^sha256: .* is neither a sha256 \(64 hex digits\) nor a fingerprint"):
        importer.import_bundle("http://127.0.0.1:9/", value, store=attendee)
    code, err = run_cli(["kit.import", "http://127.0.0.1:9/", "--sha256", value], monkeypatch, capsys)
    assert code == 2 and err.count("\n") == 1 and "nor a fingerprint" in err
    code, err = run_cli(["lab.up", "--kit-from", "http://127.0.0.1:9/", "--kit-sha256", value], monkeypatch, capsys)
    assert code == 2 and err.startswith(f"error: kit_sha256: {value!r} is neither a sha256") and err.count("\n") == 1
    assert not (tmp_path / "state").exists() and not (tmp_path / "kit").exists()


def test_the_spec_takes_kit_sha256_from_lab_yaml_and_options(empty_cwd):
    (empty_cwd / "lab.yaml").write_text("kit_from: http://trainer:8780\nkit_sha256: 3F9A-1C22 8B0E-77D1\n")
    assert lab_spec.load().kit_sha256 == "3f9a1c228b0e77d1"
    assert lab_spec.load(overrides={"kit_sha256": "a" * 64}).kit_sha256 == "a" * 64
    with pytest.raises(InputError, match="^kit_sha256: 'nope' is neither"):
        lab_spec.load(overrides={"kit_sha256": "nope"})
    (empty_cwd / "lab.yaml").write_text("kit_sha256: 3f9a1c228b0e77d1\n")
    with pytest.raises(InputError, match="^kit_sha256: pins the bundle kit_from names; give --kit-from too"):
        lab_spec.load()


def test_a_redirect_to_another_port_is_refused_for_kit_import_and_lab_up(served, attendee, scripted,  # noqa: F811
                                                                          tmp_path, empty_cwd):
    target, hex_digest, httpd = served
    asked_of_target = []
    answer = httpd.RequestHandlerClass._answer
    httpd.RequestHandlerClass._answer = lambda handler, with_body: (asked_of_target.append(handler.path),
                                                                   answer(handler, with_body))
    redirect = {path: (302, {"Location": f"{target}{path}", "Content-Length": "0"}, b"")
                for path in ("/kit.tar", "/kit.tar.sha256", "/kit.tar.json")}
    attacker = scripted(redirect)
    pattern = (rf"^kit bundle {attacker.address}/kit.tar: {attacker.address}/kit.tar.json redirects to "
               rf"{target}/kit.tar.json, another origin: refused, nothing was imported$")
    assert_refused_and_nothing_written(lambda: importer.import_bundle(attacker.address, store=attendee), pattern,
                                       tmp_path)
    assert_refused_and_nothing_written(lambda: importer.import_bundle(attacker.address, hex_digest, store=attendee),
                                       pattern, tmp_path)
    lab_up = lab_spec.load(overrides={"kit_from": attacker.address, "kit_sha256": trust.fingerprint(hex_digest)})
    context = type("Context", (), {"spec": lab_up})()
    assert_refused_and_nothing_written(lambda: ResolveArtifacts().execute(context), pattern, tmp_path)
    assert asked_of_target == []


def test_a_redirect_on_the_same_origin_is_followed(attendee, scripted, tmp_path):  # noqa: F811
    path, hex_digest = make_bundle(tmp_path, "kit.tar", b"#!/bin/sh\necho moved\n")
    routes = {"/kit.tar": (302, {"Location": "/exports/kit.tar", "Content-Length": "0"}, b""),
              "/exports/kit.tar": body(path.read_bytes())}
    server = scripted(routes)
    rows = importer.import_bundle(server.address, hex_digest, store=attendee)
    assert [row["action"] for row in rows] == ["imported"]
    assert server.httpd.RequestHandlerClass.asked[-2:] == ["/kit.tar", "/exports/kit.tar"]


@pytest.mark.parametrize("routes, pattern", [
    ({"/kit.tar.json": body(b"[]")}, r"its served index /kit.tar.json is a JSON list, not an object"),
    ({"/kit.tar.json": body(json.dumps({"schema": 2, "for": "build", "artifacts": {"tool": {"name": "tool"}}}).encode())},
     r"its served index /kit.tar.json: artifact tool has no kind"),
    ({"/kit.tar.json": body(b"[" * 100_000 + b"]" * 100_000)}, r"its served index /kit.tar.json is not JSON"),
    ({"/kit.tar.json": body(b" " * ((16 << 20) + 1))}, r"its served index /kit.tar.json is larger than 16777216 bytes"),
    ({"/kit.tar.sha256": body(b"a" * 5000)}, r"kit.tar.sha256 is larger than 4096 bytes"),
    ({"/kit.tar.sha256": body(b"%s  kit.tar\n" % (b"a" * 64)), "/kit.tar": body(b"", status=416)},
     r"HTTP 416; nothing was imported"),
    ({"/kit.tar.sha256": body(b"%s  kit.tar\n" % (b"a" * 64)), "/kit.tar": (200, {}, b"x" * 1000)},
     r"the server does not say how long the bundle is \(Content-Length\)"),
])
def test_a_server_s_odd_answers_are_one_line_and_write_nothing(attendee, scripted, tmp_path, routes,  # noqa: F811
                                                               pattern):
    server = scripted(routes)
    assert_refused_and_nothing_written(lambda: importer.import_bundle(server.address, store=attendee),
                                       rf"^kit bundle {server.address}/kit.tar: .*{pattern}", tmp_path)
    assert not (tmp_path / "state" / "kit-trust.json").exists()


def test_a_download_cut_short_says_so_and_resumes_and_other_downloads_go(served, attendee, scripted, tmp_path):  # noqa: F811
    address, hex_digest, _ = served
    (attendee.root / "imports").mkdir(parents=True)
    (attendee.root / "imports" / f"{'0' * 64}.tar.partial").write_bytes(b"another bundle's download")
    data = (tmp_path / "kit.tar").read_bytes()
    cut = scripted({"/kit.tar": (200, {"Content-Length": str(len(data))}, data[:3000])})
    with pytest.raises(Exception, match=rf"^kit bundle {cut.address}/kit.tar: the download stopped with "
                                        rf"{len(data) - 3000} bytes to go; run the same command again to resume it$"):
        importer.import_bundle(cut.address, hex_digest, store=attendee)
    assert (attendee.root / "imports" / f"{hex_digest}.tar.partial").stat().st_size == 3000
    assert [row["action"] for row in importer.import_bundle(address, hex_digest, store=attendee)] == ["imported"]
    assert snapshot(attendee.root / "imports") == {}
