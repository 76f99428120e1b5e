use super::*;

fn ctx() -> Ctx {
    Ctx::new("native", "native", None)
}

fn req(method: &str, target: &str) -> Request {
    Request {
        method: method.into(),
        target: target.into(),
        headers: vec![("host".into(), b"example.test:3000".to_vec())],
        ..Default::default()
    }
}

fn respond(r: &Request) -> Response {
    match handle(&ctx(), r) {
        Action::Respond(resp) => resp,
        Action::Delay(..) => panic!("unexpected delay"),
    }
}

fn json(r: &Response) -> Value {
    assert!(r.body.ends_with(b"\n"), "JSON bodies end with a newline");
    serde_json::from_slice(&r.body).expect("valid JSON")
}

#[test]
fn flavor_from_env_or_default() {
    assert_eq!(Ctx::new("wasmedge", "embed-wasmedge", None).flavor, "embed-wasmedge");
    assert_eq!(Ctx::new("wasmedge", "embed-wasmedge", Some("runtime-crun-wasmedge".into())).flavor, "runtime-crun-wasmedge");
    assert_eq!(Ctx::new("wasmedge", "embed-wasmedge", Some("".into())).flavor, "embed-wasmedge");
    assert_eq!(Ctx::new("wasmedge", "embed-wasmedge", Some("bad\nvalue".into())).flavor, "embed-wasmedge");
}

#[test]
fn canonical_names_follow_go() {
    assert_eq!(canonical_header("x-foo-bar"), "X-Foo-Bar");
    assert_eq!(canonical_header("USER-AGENT"), "User-Agent");
    assert_eq!(canonical_header("content-type"), "Content-Type");
    assert_eq!(canonical_header("bad name"), "bad name");
}

#[test]
fn get_example_from_the_spec() {
    let mut r = req("GET", "/get?foo=bar&foo=baz");
    r.headers.push(("x-forwarded-for".into(), b"203.0.113.7, 10.0.0.1".to_vec()));
    r.headers.push(("Connection".into(), b"keep-alive".to_vec()));
    let resp = respond(&r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json; charset=utf-8"));
    assert_eq!(resp.header("x-workload-flavor"), Some("native"));
    let v = json(&resp);
    assert_eq!(v["args"]["foo"], serde_json::json!(["bar", "baz"]));
    assert_eq!(v["origin"], "203.0.113.7");
    assert_eq!(v["url"], "http://example.test:3000/get?foo=bar&foo=baz");
    assert_eq!(v["headers"]["Host"], serde_json::json!(["example.test:3000"]));
    assert!(v["headers"].get("Connection").is_none());
    assert_eq!(v["flavor"], "native");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["args", "headers", "method", "origin", "url", "flavor"]);
    let text = String::from_utf8(resp.body).unwrap();
    assert!(text.starts_with("{\n  \"args\": {"), "2-space indent: {text}");
}

#[test]
fn host_from_authority_when_header_missing() {
    let r = Request {
        method: "GET".into(),
        target: "/get".into(),
        authority: Some("h.test:8080".into()),
        scheme: Some("http".into()),
        ..Default::default()
    };
    let v = json(&respond(&r));
    assert_eq!(v["headers"]["Host"], serde_json::json!(["h.test:8080"]));
    assert_eq!(v["url"], "http://h.test:8080/get");
    assert_eq!(v["origin"], "");
}

#[test]
fn absolute_form_target() {
    let mut r = req("GET", "http://other.test/get?a=1");
    r.headers.clear();
    let v = json(&respond(&r));
    assert_eq!(v["url"], "http://other.test/get?a=1");
}

#[test]
fn peer_is_origin_without_xff() {
    let mut r = req("GET", "/ip");
    r.peer = Some("192.0.2.1".into());
    assert_eq!(json(&respond(&r))["origin"], "192.0.2.1");
}

#[test]
fn method_rules() {
    let resp = respond(&req("POST", "/get"));
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));
    let v = json(&resp);
    assert_eq!(v["status_code"], 405);
    assert_eq!(v["error"], "Method Not Allowed");
    assert_eq!(respond(&req("HEAD", "/get")).status, 200);
    assert_eq!(respond(&req("GET", "/post")).status, 405);
    assert_eq!(respond(&req("PUT", "/put")).status, 200);
    assert_eq!(respond(&req("PATCH", "/patch")).status, 200);
    assert_eq!(respond(&req("DELETE", "/delete")).status, 200);
    assert_eq!(respond(&req("BREW", "/anything/x/y")).status, 200);
    assert_eq!(respond(&req("B R", "/anything")).status, 400);
}

#[test]
fn unknown_path_is_404_json() {
    let resp = respond(&req("GET", "/nope/%ff%fe"));
    assert_eq!(resp.status, 404);
    assert_eq!(json(&resp)["error"], "Not Found");
    assert_eq!(respond(&req("GET", "*")).status, 404);
    assert_eq!(respond(&req("GET", "")).status, 404);
}

#[test]
fn bodies() {
    let mut r = req("POST", "/post?x=1");
    r.headers.push(("Content-Type".into(), b"application/json".to_vec()));
    r.body = br#"{"b": 2, "a": [1, "x"]}"#.to_vec();
    let v = json(&respond(&r));
    assert_eq!(v["json"], serde_json::json!({"a": [1, "x"], "b": 2}));
    assert_eq!(v["data"], r#"{"b": 2, "a": [1, "x"]}"#);
    assert_eq!(v["form"], serde_json::json!({}));
    assert_eq!(v["files"], serde_json::json!({}));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["args", "headers", "method", "origin", "url", "data", "files", "form", "json", "flavor"]);

    let mut r = req("PUT", "/put");
    r.headers.push(("content-type".into(), b"application/x-www-form-urlencoded".to_vec()));
    r.body = b"a=1&b=two+words&a=3".to_vec();
    let v = json(&respond(&r));
    assert_eq!(v["form"], serde_json::json!({"a": ["1", "3"], "b": ["two words"]}));
    assert_eq!(v["json"], Value::Null);

    let mut r = req("POST", "/anything");
    r.body = vec![0xff, 0x00, 0x01];
    let v = json(&respond(&r));
    assert_eq!(v["data"], "data:application/octet-stream;base64,/wAB");

    let mut r = req("POST", "/anything");
    r.headers.push(("Content-Type".into(), b"application/json".to_vec()));
    r.body = b"{not json".to_vec();
    let v = json(&respond(&r));
    assert_eq!(v["json"], Value::Null);
    assert_eq!(v["data"], "{not json");

    let v = json(&respond(&req("DELETE", "/delete")));
    assert_eq!(v["data"], "");
}

#[test]
fn invalid_utf8_header_is_lossy() {
    let mut r = req("GET", "/headers");
    r.headers.push(("X-Bin".into(), vec![b'a', 0xff, b'b']));
    let v = json(&respond(&r));
    assert_eq!(v["headers"]["X-Bin"], serde_json::json!(["a\u{fffd}b"]));
}

#[test]
fn status_endpoint() {
    assert_eq!(respond(&req("GET", "/status/200")).status, 200);
    let r = respond(&req("POST", "/status/201"));
    assert_eq!(r.status, 201);
    assert!(r.body.is_empty());
    let r = respond(&req("GET", "/status/418"));
    assert_eq!(r.body, b"I'm a teapot!");
    assert_eq!(respond(&req("GET", "/status/302")).header("location"), Some("/redirect/1"));
    assert_eq!(
        respond(&req("GET", "/status/401")).header("www-authenticate"),
        Some("Basic realm=\"Fake Realm\"")
    );
    for bad in ["/status/600", "/status/99", "/status/abc", "/status/+200", "/status/100"] {
        assert_eq!(respond(&req("GET", bad)).status, 400, "{bad}");
    }
}

#[test]
fn delay_parses() {
    match handle(&ctx(), &req("GET", "/delay/1.5")) {
        Action::Delay(d, resp) => {
            assert_eq!(d, Duration::from_millis(1500));
            assert_eq!(resp.status, 200);
        }
        _ => panic!("expected a delay"),
    }
    for bad in ["/delay/11", "/delay/-1", "/delay/nan", "/delay/inf", "/delay/1e1", "/delay/"] {
        assert_eq!(respond(&req("GET", bad)).status, 400, "{bad}");
    }
}

#[test]
fn bytes_endpoint() {
    let r = respond(&req("GET", "/bytes/100?seed=42"));
    assert_eq!(r.body.len(), 100);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-length"), Some("100"));
    assert_eq!(r.body, respond(&req("GET", "/bytes/100?seed=42")).body);
    assert_ne!(r.body, respond(&req("GET", "/bytes/100?seed=43")).body);
    assert_eq!(respond(&req("GET", "/bytes/0")).body.len(), 0);
    assert_eq!(respond(&req("GET", "/bytes/102401")).status, 400);
    assert_eq!(respond(&req("GET", "/bytes/1?seed=x")).status, 400);
    assert_eq!(respond(&req("POST", "/bytes/1")).status, 405);
}

#[test]
fn base64_endpoint() {
    let r = respond(&req("GET", "/base64/aGVsbG8gd29ybGQ="));
    assert_eq!(r.body, b"hello world");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(respond(&req("GET", "/base64/aGVsbG8gd29ybGQ")).body, b"hello world");
    assert_eq!(respond(&req("GET", "/base64/_-8")).body, vec![0xff, 0xef]);
    assert_eq!(respond(&req("GET", "/base64/%3D%3D%3D")).status, 400);
    assert_eq!(respond(&req("GET", "/base64/!!")).status, 400);
}

#[test]
fn response_headers_endpoint() {
    let r = respond(&req("GET", "/response-headers?X-Test=1&X-Test=2&Server=httpbin"));
    assert_eq!(r.status, 200);
    let v = json(&r);
    assert_eq!(v["X-Test"], serde_json::json!(["1", "2"]));
    assert_eq!(v["Content-Type"], serde_json::json!(["application/json; charset=utf-8"]));
    assert_eq!(r.headers.iter().filter(|(n, _)| n == "X-Test").count(), 2);
    let r = respond(&req("GET", "/response-headers?Content-Type=text/plain"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(respond(&req("GET", "/response-headers?Content-Length=1")).status, 400);
    assert_eq!(respond(&req("GET", "/response-headers?X=a%0d%0aB:%20c")).status, 400);
    assert_eq!(respond(&req("GET", "/response-headers?bad%20name=1")).status, 400);
}

#[test]
fn uuid_and_version() {
    let v = json(&respond(&req("GET", "/uuid")));
    let u = v["uuid"].as_str().unwrap();
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert_eq!(u, u.to_lowercase());
    let v = json(&respond(&req("GET", "/version")));
    assert_eq!(v["service"], "httpbin");
    assert_eq!(v["runtime"], "native");
    assert_eq!(v["version"], VERSION);
}

#[test]
fn hostile_inputs_do_not_panic() {
    let huge = format!("/get?{}", "a=b&".repeat(50_000));
    assert_eq!(respond(&req("GET", &huge)).status, 200);
    for target in ["/%", "/%zz", "//", "/anything/%00", "/status/", "/bytes/99999999999999999999999", "/base64/", "?", "http://", "http:///x"] {
        let _ = handle(&ctx(), &req("GET", target));
    }
    let mut r = req("POST", "/anything");
    r.headers.push(("content-type".into(), vec![0xff, 0xfe]));
    r.body = vec![0xc3];
    let _ = handle(&ctx(), &r);
}

#[test]
fn too_large_is_413_json() {
    let r = too_large(&ctx());
    assert_eq!(r.status, 413);
    assert_eq!(json(&r)["status_code"], 413);
}
