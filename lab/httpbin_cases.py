"""The httpbin conformance cases (shared/specs/httpbin.md) as data, and a runner.

Independent of pytest: the lab's checks run the same cases against every variant in a cluster,
tests/conformance runs them against local processes and containers. Only the standard library and
`requests` are used.

    results = run_cases("http://127.0.0.1:3000")
    passed = sum(r.ok for r in results)

`normalise(json)` drops what legitimately differs between variants (the `flavor` field, runtime, host:port,
peer address, random values) so answers from different variants can be compared for equality.
"""
from __future__ import annotations

import base64
import hashlib
import json as jsonlib
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

ANY = object()
"""In an expected JSON subset: the key must be present, any value."""

XFF = {"X-Forwarded-For": "203.0.113.7"}
RUNTIMES = ("native", "wasmedge", "wasmtime")
# The names a workload reports as its `flavor` (the field and X-Workload-Flavor of the httpbin
# spec, shared/specs/httpbin.md, set from its `FLAVOR` environment variable): the spec's, then the
# lab catalog's AOT-compiled WasmEdge variants and its Wasm OCI artifacts, each a variant's name.
VARIANT_NAMES = ("native", "embed-wasmedge", "runtime-wasmedge", "embed-wasmtime", "runtime-wasmtime",
                 "runtime-crun-wasmedge", "embed-wasmedge-aot", "runtime-wasmedge-aot", "runtime-crun-wasmedge-aot",
                 "artifact-wasmedge", "artifact-wasmtime")
JSON_CT = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    status: int = 200
    json: Any = None
    """Expected subset of the JSON body (dicts: listed keys only; lists and scalars: equal)."""
    json_absent: tuple = ()
    """JSON paths ("headers.Connection") that must not exist."""
    json_regex: dict = field(default_factory=dict)
    """JSON path -> regex its string value must fully match."""
    resp_headers: dict = field(default_factory=dict)
    """Response header -> expected value (exact), or ANY for presence."""
    body_exact: bytes | None = None
    body_len: int | None = None
    min_seconds: float = 0.0
    deterministic: bool = True
    """False when the answer is random (uuid, unseeded bytes): left out of cross-variant equality."""


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _cases() -> list[Case]:
    err = lambda code, reason: {"status_code": code, "error": reason, "detail": ANY}  # noqa: E731
    json_hdr = {"Content-Type": JSON_CT, "X-Workload-Flavor": ANY}
    shape_anything = {"args": ANY, "headers": ANY, "method": ANY, "origin": ANY, "url": ANY,
                      "data": ANY, "files": {}, "form": ANY, "json": ANY, "flavor": ANY}
    big_query = "&".join(f"k{i}=v{i}" for i in range(800))  # ~8.9 KiB
    return [
        # /get
        Case("get-args", "GET", "/get?foo=bar&foo=baz", headers=XFF,
             json={"args": {"foo": ["bar", "baz"]}, "method": "GET", "origin": "203.0.113.7",
                   "headers": {"X-Forwarded-For": ["203.0.113.7"], "Host": ANY}, "flavor": ANY},
             json_regex={"url": r"http://[^/]+/get\?foo=bar&foo=baz"}, resp_headers=json_hdr),
        Case("get-no-args", "GET", "/get", headers=XFF, json={"args": {}, "origin": "203.0.113.7"}),
        Case("get-head", "HEAD", "/get", body_exact=b"", resp_headers={"X-Workload-Flavor": ANY}),
        Case("get-wrong-method", "POST", "/get", status=405, json=err(405, "Method Not Allowed"),
             resp_headers={"Content-Type": JSON_CT}),
        Case("get-forwarded-proto", "GET", "/get", headers={"X-Forwarded-Proto": "https"},
             json_regex={"url": r"https://[^/]+/get"}),
        Case("get-no-hop-by-hop", "GET", "/get", headers={"Connection": "keep-alive", "Keep-Alive": "timeout=5"},
             json_absent=("headers.Connection", "headers.Keep-Alive")),
        Case("get-huge-query", "GET", "/get?" + big_query, json={"args": {"k0": ["v0"], "k799": ["v799"]}}),
        # /anything
        Case("anything", "GET", "/anything", headers=XFF, json={**shape_anything, "method": "GET", "data": "",
                                                               "json": None, "form": {}, "args": {}}),
        Case("anything-rest", "DELETE", "/anything/a/b?x=1&y=", json={"method": "DELETE", "args": {"x": ["1"], "y": [""]}},
             json_regex={"url": r"http://[^/]+/anything/a/b\?x=1&y="}),
        Case("anything-custom-method", "PROPFIND", "/anything", json={"method": "PROPFIND"}),
        Case("anything-bad-escape", "GET", "/anything/%zz%ff", json={"method": "GET"}),
        Case("anything-json", "POST", "/anything", headers={"Content-Type": "application/json"},
             body=b'{"b": 2, "a": [1, "x", null]}',
             json={"json": {"a": [1, "x", None], "b": 2}, "data": '{"b": 2, "a": [1, "x", null]}'}),
        # /post /put /patch /delete
        Case("post-json", "POST", "/post", headers={"Content-Type": "application/json"}, body=b'{"hello": "world"}',
             json={**shape_anything, "json": {"hello": "world"}, "data": '{"hello": "world"}', "form": {}}),
        Case("post-bad-json", "POST", "/post", headers={"Content-Type": "application/json"}, body=b"{nope",
             json={"json": None, "data": "{nope"}),
        Case("post-form", "POST", "/post", headers={"Content-Type": "application/x-www-form-urlencoded"},
             body=b"a=1&b=two+words&a=3", json={"form": {"a": ["1", "3"], "b": ["two words"]}, "json": None}),
        Case("post-text", "POST", "/post", headers={"Content-Type": "text/plain; charset=utf-8"}, body="héllo".encode(),
             json={"data": "héllo"}),
        Case("post-binary", "POST", "/post", headers={"Content-Type": "application/octet-stream"},
             body=bytes([0, 1, 2, 0xff]), json={"data": "data:application/octet-stream;base64,AAEC/w=="}),
        Case("post-empty", "POST", "/post", body=b"", json={"data": "", "json": None, "form": {}}),
        Case("post-wrong-method", "GET", "/post", status=405, json=err(405, "Method Not Allowed")),
        Case("put", "PUT", "/put", headers={"Content-Type": "text/plain"}, body=b"put body", json={"method": "PUT", "data": "put body"}),
        Case("put-wrong-method", "POST", "/put", status=405),
        Case("patch", "PATCH", "/patch", headers={"Content-Type": "application/json"}, body=b"[1,2]",
             json={"method": "PATCH", "json": [1, 2]}),
        Case("delete", "DELETE", "/delete", json={"method": "DELETE", "data": ""}),
        Case("delete-wrong-method", "GET", "/delete", status=405),
        # Connection: close because the server answers before reading the body, and a host may
        # then drop the connection (wasmtime's does): the next case must not reuse it.
        Case("body-too-large", "POST", "/post", headers={"Content-Type": "application/octet-stream",
                                                          "Connection": "close"},
             body=b"x" * ((1 << 20) + 1), status=413, json=err(413, "Payload Too Large")),
        Case("body-at-limit", "POST", "/post", headers={"Content-Type": "application/octet-stream"},
             body=b"x" * (1 << 20), json={"method": "POST"}),
        # /headers /ip /user-agent /uuid
        Case("headers", "GET", "/headers", headers={"x-foo-bar": "baz", "X-MULTI-word-NAME": "v"},
             json={"headers": {"X-Foo-Bar": ["baz"], "X-Multi-Word-Name": ["v"], "Host": ANY}},
             json_absent=("headers.Connection", "args")),
        Case("headers-wrong-method", "POST", "/headers", status=405),
        Case("ip", "GET", "/ip", headers={"X-Forwarded-For": "198.51.100.1, 10.0.0.1"}, json={"origin": "198.51.100.1"}),
        Case("user-agent", "GET", "/user-agent", headers={"User-Agent": "wasm-lab-conformance/1"},
             json={"user-agent": "wasm-lab-conformance/1"}),
        Case("uuid", "GET", "/uuid", json_regex={"uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"},
             deterministic=False),
        # /status
        Case("status-200", "GET", "/status/200", body_exact=b""),
        Case("status-201-post", "POST", "/status/201", status=201, body_exact=b""),
        Case("status-204", "GET", "/status/204", status=204, body_exact=b""),
        Case("status-302", "GET", "/status/302", status=302, resp_headers={"Location": "/redirect/1"}),
        Case("status-307-put", "PUT", "/status/307", status=307, resp_headers={"Location": "/redirect/1"}),
        Case("status-401", "GET", "/status/401", status=401,
             resp_headers={"WWW-Authenticate": 'Basic realm="Fake Realm"'}),
        Case("status-418", "GET", "/status/418", status=418, body_exact=b"I'm a teapot!"),
        Case("status-500", "GET", "/status/500", status=500, body_exact=b""),
        Case("status-599", "GET", "/status/599", status=599),
        Case("status-too-big", "GET", "/status/600", status=400, json=err(400, "Bad Request")),
        Case("status-not-a-number", "GET", "/status/abc", status=400, json=err(400, "Bad Request")),
        # /delay
        Case("delay", "GET", "/delay/0.5?x=1", json={"args": {"x": ["1"]}, "method": "GET", "data": ""}, min_seconds=0.45),
        Case("delay-zero", "POST", "/delay/0", json={"method": "POST"}),
        Case("delay-too-long", "GET", "/delay/11", status=400, json=err(400, "Bad Request")),
        Case("delay-not-a-number", "GET", "/delay/soon", status=400),
        # /bytes
        Case("bytes-seeded", "GET", "/bytes/1024?seed=7", body_len=1024,
             resp_headers={"Content-Type": "application/octet-stream", "Content-Length": "1024"}),
        Case("bytes-random", "GET", "/bytes/64", body_len=64, deterministic=False),
        Case("bytes-zero", "GET", "/bytes/0", body_len=0),
        Case("bytes-max", "GET", "/bytes/102400?seed=1", body_len=102400),
        Case("bytes-too-many", "GET", "/bytes/102401", status=400, json=err(400, "Bad Request")),
        Case("bytes-bad-seed", "GET", "/bytes/8?seed=x", status=400),
        Case("bytes-wrong-method", "POST", "/bytes/8", status=405),
        # /base64
        Case("base64-urlsafe", "GET", "/base64/" + _b64("hello wasm?>"), body_exact=b"hello wasm?>",
             resp_headers={"Content-Type": "text/plain; charset=utf-8"}),
        Case("base64-standard", "GET", "/base64/aGk%2Fd29ybGQ%3D", body_exact=b"hi?world"),
        Case("base64-unpadded", "GET", "/base64/aGVsbG8", body_exact=b"hello"),
        Case("base64-invalid", "GET", "/base64/!!notbase64", status=400, json=err(400, "Bad Request")),
        # /response-headers
        Case("response-headers", "GET", "/response-headers?X-Lab=one&X-Lab=two&Server=httpbin",
             json={"X-Lab": ["one", "two"], "Server": ["httpbin"], "Content-Type": [JSON_CT]},
             resp_headers={"X-Lab": ANY, "Server": "httpbin"}),
        Case("response-headers-post", "POST", "/response-headers?X-One=1", json={"X-One": ["1"]}),
        Case("response-headers-forbidden", "GET", "/response-headers?Content-Length=3", status=400),
        # /version, errors
        Case("version", "GET", "/version", json={"service": "httpbin", "flavor": ANY, "runtime": ANY, "version": ANY}),
        Case("not-found", "GET", "/no/such/path", status=404, json=err(404, "Not Found"), resp_headers=json_hdr),
        Case("not-found-root", "GET", "/", status=404),
    ]


CASES: list[Case] = _cases()


@dataclass
class Result:
    case: Case
    ok: bool
    status: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    json: Any = None
    normalised: Any = None
    body_sha256: str | None = None
    headers: dict = field(default_factory=dict)
    retried: int = 0                     # connection attempts that failed before this answer
    retried_after: str = ""              # the last of those failures, as the client saw it

    @property
    def name(self) -> str:
        return self.case.name

    def comparable(self) -> Any:
        """What must be equal across variants: status, normalised JSON or body digest."""
        if not self.case.deterministic:
            return (self.status,)
        body = self.normalised if self.json is not None else self.body_sha256
        return (self.status, body)


def _lookup(value: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value


def subset_problems(expected: Any, actual: Any, where: str = "") -> list[str]:
    """Where `actual` does not contain `expected` (dicts by listed keys, other values by equality)."""
    if expected is ANY:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'body'}: expected an object, got {actual!r:.80}"]
        problems = []
        for key, want in expected.items():
            if key not in actual:
                problems.append(f"{where}{key}: missing")
            else:
                problems += subset_problems(want, actual[key], f"{where}{key}.")
        return problems
    if expected != actual:
        return [f"{where.rstrip('.') or 'body'}: expected {expected!r:.80}, got {actual!r:.80}"]
    return []


def check(case: Case, status: int, headers: dict, body: bytes, seconds: float) -> Result:
    """Judge one answer against its case."""
    result = Result(case=case, ok=False, status=status, seconds=seconds,
                    body_sha256=hashlib.sha256(body).hexdigest(), headers=dict(headers))
    problems = result.problems
    if status != case.status:
        problems.append(f"status: expected {case.status}, got {status}")
    lower = {k.lower(): v for k, v in headers.items()}
    if "x-workload-flavor" not in lower:
        problems.append("header X-Workload-Flavor: missing")
    elif lower["x-workload-flavor"] not in VARIANT_NAMES:
        problems.append(f"header X-Workload-Flavor: unknown variant {lower['x-workload-flavor']!r}")
    for name, want in case.resp_headers.items():
        got = lower.get(name.lower())
        if got is None:
            problems.append(f"header {name}: missing")
        elif want is not ANY and got != want:
            problems.append(f"header {name}: expected {want!r}, got {got!r}")
    if lower.get("content-type", "").startswith("application/json") and case.method != "HEAD":
        try:
            result.json = jsonlib.loads(body)
            result.normalised = normalise(result.json)
        except ValueError as error:
            problems.append(f"body: invalid JSON ({error})")
        else:
            text = body.decode("utf-8", "replace")
            if not text.endswith("\n"):
                problems.append("body: JSON without a trailing newline")
            if text.startswith("{\n") and not text.startswith("{\n  \""):
                problems.append("body: JSON not indented by 2 spaces")
    if case.json is not None or case.json_absent or case.json_regex:
        if result.json is None and "body: invalid JSON" not in " ".join(problems):
            problems.append("body: expected JSON")
        else:
            if case.json is not None:
                problems += subset_problems(case.json, result.json)
            for path in case.json_absent:
                if _lookup(result.json, path)[0]:
                    problems.append(f"{path}: must be absent")
            for path, pattern in case.json_regex.items():
                found, value = _lookup(result.json, path)
                if not found or not isinstance(value, str) or not re.fullmatch(pattern, value):
                    problems.append(f"{path}: {value!r:.80} does not match {pattern}")
            reported = (result.json or {}).get("flavor") if isinstance(result.json, dict) else None
            if reported is not None and reported not in VARIANT_NAMES:
                problems.append(f"`flavor` field: unknown variant {reported!r}")
            if case.name == "version" and isinstance(result.json, dict) \
                    and result.json.get("runtime") not in RUNTIMES:
                problems.append(f"runtime: {result.json.get('runtime')!r} is not one of {RUNTIMES}")
    if case.body_exact is not None and body != case.body_exact:
        problems.append(f"body: expected {case.body_exact!r:.60}, got {body!r:.60}")
    if case.body_len is not None and len(body) != case.body_len:
        problems.append(f"body: expected {case.body_len} bytes, got {len(body)}")
    if seconds + 0.01 < case.min_seconds:
        problems.append(f"answered after {seconds:.2f}s, expected at least {case.min_seconds}s")
    result.ok = not problems
    return result


def run_case(base_url: str, case: Case, session: requests.Session | None = None, timeout: float = 20,
             connect_retries: int = 0) -> Result:
    """One case; a connection that could not be made is tried again up to `connect_retries` times
    (a second apart) before it counts as failed, and the result says how many were needed and why."""
    session = session or requests.Session()
    started = time.monotonic()
    failures: list[str] = []

    def note_failure(state) -> None:
        failures.append(_said(state.outcome.exception()))

    attempts = Retrying(stop=stop_after_attempt(connect_retries + 1), wait=wait_fixed(1), reraise=True,
                        retry=retry_if_exception_type(requests.ConnectionError), before_sleep=note_failure)
    try:
        response = attempts(session.request, case.method, base_url.rstrip("/") + case.path, headers=case.headers,
                            data=case.body, timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        result = Result(case=case, ok=False, problems=[f"request failed: {_said(error)}"],
                        seconds=time.monotonic() - started)
    else:
        result = check(case, response.status_code, dict(response.headers), response.content,
                       time.monotonic() - started)
    result.retried = len(failures)
    result.retried_after = failures[-1] if failures else ""
    return result


def _said(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"


def run_cases(base_url: str, cases: list[Case] | None = None, timeout: float = 20,
              connect_retries: int = 0) -> list[Result]:
    """Run every case against one server; never raises for a failing server."""
    with requests.Session() as session:
        return [run_case(base_url, case, session, timeout, connect_retries) for case in (CASES if cases is None else cases)]


def _normalise_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return urlunsplit((parts.scheme, "<host>", parts.path, parts.query, parts.fragment))


def normalise(value: Any) -> Any:
    """A copy of an httpbin JSON answer without what differs legitimately between variants:
    `flavor`, `runtime`, `uuid`, the Host (and the host:port inside `url`), and `origin` when
    it is the peer address (no X-Forwarded-For was sent)."""
    if not isinstance(value, dict):
        return value
    out = {k: v for k, v in value.items() if k not in ("flavor", "runtime", "uuid")}
    headers = out.get("headers")
    if isinstance(headers, dict):
        headers = dict(headers)
        if "Host" in headers:
            headers["Host"] = ["<host>"]
        out["headers"] = headers
    if isinstance(out.get("url"), str):
        out["url"] = _normalise_url(out["url"])
    if "origin" in out and not (isinstance(headers, dict) and "X-Forwarded-For" in headers) \
            and "X-Forwarded-For" not in str(value.get("headers", "")):
        out["origin"] = "<peer>"
    return out


def summary(results: list[Result]) -> tuple[int, int]:
    """(passed, total)"""
    return sum(r.ok for r in results), len(results)


def differences(by_target: dict[str, list[Result]]) -> list[str]:
    """Cases whose comparable answer differs between targets, described one per line."""
    problems: list[str] = []
    targets = list(by_target)
    if len(targets) < 2:
        return problems
    first = targets[0]
    for index, case in enumerate(CASES):
        reference = by_target[first][index].comparable() if index < len(by_target[first]) else None
        for other in targets[1:]:
            got = by_target[other][index].comparable() if index < len(by_target[other]) else None
            if got != reference:
                problems.append(f"{case.name}: {first} {str(reference)[:300]} != {other} {str(got)[:300]}")
    return problems
