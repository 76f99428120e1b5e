//! httpbin's handlers on plain values. Nothing here knows about sockets, async runtimes or
//! WebAssembly hosts: an entry point turns what it received into a [`Request`], calls
//! [`handle`], and writes the [`Response`] (after waiting, for [`Action::Delay`]).
//!
//! The shapes follow docs in shared/specs/httpbin.md (go-httpbin's, plus `flavor`).
//! Nothing a client sends may panic here: every parse is checked and answered with 4xx.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};

mod rand;
pub mod status;

/// Largest request body the server accepts; larger ones get 413.
pub const MAX_BODY: usize = 1 << 20;
/// Largest request head (request line + headers) the socket-level servers accept.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest `/bytes/<n>`.
pub const MAX_BYTES: u64 = 102_400;
/// Longest `/delay/<seconds>`.
pub const MAX_DELAY_SECS: f64 = 10.0;

pub const SERVICE: &str = "httpbin";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Headers that describe a connection, not a request: never listed, never set by /response-headers.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
];

/// What the running build is and how it was deployed.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// `native`, `embed-wasmedge`, … (from FLAVOR, else the build's default)
    pub flavor: String,
    /// `native`, `wasmedge` or `wasmtime`
    pub runtime: &'static str,
}

impl Ctx {
    /// Flavor from the value of FLAVOR when set and non-empty, else `default_flavor`.
    pub fn new(runtime: &'static str, default_flavor: &str, env_flavor: Option<String>) -> Ctx {
        let flavor = env_flavor
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty() && f.len() <= 64 && f.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| default_flavor.to_string());
        Ctx { flavor, runtime }
    }
}

/// A request as received. Header names as sent (any case), values as raw bytes.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    /// The request target: origin-form `/path?query`, or absolute-form `http://host/path?query`.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Peer IP address, when the host exposes it.
    pub peer: Option<String>,
    /// Request authority, when the host gives it separately from the headers (wasi:http).
    pub authority: Option<String>,
    /// Scheme, when the host gives it (wasi:http).
    pub scheme: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the entry point must do with a request.
#[derive(Debug)]
pub enum Action {
    Respond(Response),
    /// Wait this long (without blocking other requests), then send the response.
    Delay(Duration, Response),
}

impl Action {
    pub fn into_parts(self) -> (Duration, Response) {
        match self {
            Action::Respond(r) => (Duration::ZERO, r),
            Action::Delay(d, r) => (d, r),
        }
    }
}

const JSON: &str = "application/json; charset=utf-8";

fn base_headers(ctx: &Ctx, content_type: Option<&str>) -> Vec<(String, String)> {
    let mut h = Vec::new();
    if let Some(ct) = content_type {
        h.push(("Content-Type".to_string(), ct.to_string()));
    }
    h.push(("X-Workload-Flavor".to_string(), ctx.flavor.clone()));
    h
}

/// Pretty JSON (2-space indent) plus a trailing newline.
fn json_bytes(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_else(|_| b"{}".to_vec());
    out.push(b'\n');
    out
}

fn json_response(ctx: &Ctx, status: u16, v: &Value) -> Response {
    Response { status, headers: base_headers(ctx, Some(JSON)), body: json_bytes(v) }
}

/// The error JSON: `{"status_code", "error", "detail"}`.
pub fn error(ctx: &Ctx, status: u16, detail: &str) -> Response {
    let mut m = Map::new();
    m.insert("status_code".into(), Value::from(status));
    m.insert("error".into(), Value::from(status::reason(status).unwrap_or("Unknown")));
    m.insert("detail".into(), Value::from(detail));
    json_response(ctx, status, &Value::Object(m))
}

/// 413 for a body over [`MAX_BODY`]; entry points answer it without reading the rest.
pub fn too_large(ctx: &Ctx) -> Response {
    error(ctx, 413, &format!("request body is larger than {MAX_BODY} bytes"))
}

/// Go's textproto.CanonicalMIMEHeaderKey: `x-foo-bar` → `X-Foo-Bar`; names holding bytes that
/// are not token characters are returned unchanged.
pub fn canonical_header(name: &str) -> String {
    if !name.bytes().all(is_token_byte) {
        return name.to_string();
    }
    let mut upper = true;
    name.bytes()
        .map(|b| {
            let c = if upper { b.to_ascii_uppercase() } else { b.to_ascii_lowercase() };
            upper = b == b'-';
            c as char
        })
        .collect()
}

pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// A parsed request: what every handler reads.
struct Parsed<'a> {
    req: &'a Request,
    /// Raw path as sent (for `url`).
    raw_path: String,
    /// Percent-decoded path (for routing).
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, Vec<String>>,
    host: String,
}

impl<'a> Parsed<'a> {
    fn new(req: &'a Request) -> Parsed<'a> {
        let mut target = req.target.as_str();
        let mut target_authority = None;
        // absolute-form: scheme://authority/path?query
        if let Some(pos) = target.find("://") {
            if !target[..pos].contains('/') && !target[..pos].contains('?') {
                let rest = &target[pos + 3..];
                let end = rest.find(['/', '?']).unwrap_or(rest.len());
                target_authority = Some(&rest[..end]);
                target = &rest[end..];
            }
        }
        let (raw_path, query) = match target.find('?') {
            Some(i) => (&target[..i], Some(target[i + 1..].to_string())),
            None => (target, None),
        };
        let raw_path = if raw_path.is_empty() { "/".to_string() } else { raw_path.to_string() };
        let path = percent_encoding::percent_decode_str(&raw_path).decode_utf8_lossy().into_owned();

        let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &req.headers {
            if name.is_empty() || is_hop_by_hop(name) {
                continue;
            }
            headers
                .entry(canonical_header(name))
                .or_default()
                .push(String::from_utf8_lossy(value).trim().to_string());
        }
        let host = match headers.get("Host").and_then(|v| v.first()) {
            Some(h) if !h.is_empty() => h.clone(),
            _ => req
                .authority
                .clone()
                .or_else(|| target_authority.map(str::to_string))
                .unwrap_or_default(),
        };
        if !host.is_empty() {
            headers.insert("Host".into(), vec![host.clone()]);
        }
        Parsed { req, raw_path, path, query, headers, host }
    }

    fn header(&self, canonical: &str) -> Option<&str> {
        self.headers.get(canonical).and_then(|v| v.first()).map(String::as_str)
    }

    fn args(&self) -> Value {
        let mut args: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(q) = &self.query {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                args.entry(k.into_owned()).or_default().push(v.into_owned());
            }
        }
        multimap(args)
    }

    fn origin(&self) -> String {
        if let Some(xff) = self.header("X-Forwarded-For") {
            if let Some(first) = xff.split(',').next() {
                let first = first.trim();
                if !first.is_empty() {
                    return first.to_string();
                }
            }
        }
        self.req.peer.clone().unwrap_or_default()
    }

    fn url(&self) -> String {
        let scheme = self
            .header("X-Forwarded-Proto")
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| "http".to_string());
        let mut url = format!("{scheme}://{}{}", self.host, self.raw_path);
        if let Some(q) = &self.query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    fn headers_value(&self) -> Value {
        multimap(self.headers.clone())
    }

    /// Media type without parameters, lower case.
    fn content_type(&self) -> (String, String) {
        let full = self.header("Content-Type").unwrap_or("").to_string();
        let essence = full.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        (full, essence)
    }
}

fn multimap(m: BTreeMap<String, Vec<String>>) -> Value {
    Value::Object(
        m.into_iter()
            .map(|(k, v)| (k, Value::Array(v.into_iter().map(Value::String).collect())))
            .collect(),
    )
}

/// Objects with sorted keys all the way down (Go's encoding/json writes maps sorted).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<String, Value> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Route a request. HEAD bodies are dropped by the entry point, not here.
pub fn handle(ctx: &Ctx, req: &Request) -> Action {
    let p = Parsed::new(req);
    let method = req.method.as_str();
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Action::Respond(error(ctx, 400, "invalid method"));
    }
    let path = p.path.as_str();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();

    let only = |allowed: &[&str]| -> Option<Response> {
        if allowed.contains(&method) {
            None
        } else {
            let mut r = error(ctx, 405, &format!("method {method} is not allowed on {path}"));
            r.headers.push(("Allow".into(), allowed.join(", ")));
            Some(r)
        }
    };
    macro_rules! only {
        ($($m:expr),*) => {
            if let Some(r) = only(&[$($m),*]) { return Action::Respond(r); }
        };
    }

    let resp = match segs.as_slice() {
        ["get"] => {
            only!("GET", "HEAD");
            get_shape(ctx, &p)
        }
        ["anything"] | ["anything", ..] => anything_shape(ctx, &p),
        ["post"] => {
            only!("POST");
            anything_shape(ctx, &p)
        }
        ["put"] => {
            only!("PUT");
            anything_shape(ctx, &p)
        }
        ["patch"] => {
            only!("PATCH");
            anything_shape(ctx, &p)
        }
        ["delete"] => {
            only!("DELETE");
            anything_shape(ctx, &p)
        }
        ["headers"] => {
            only!("GET");
            let mut m = Map::new();
            m.insert("headers".into(), p.headers_value());
            json_response(ctx, 200, &Value::Object(m))
        }
        ["ip"] => {
            only!("GET");
            let mut m = Map::new();
            m.insert("origin".into(), Value::from(p.origin()));
            json_response(ctx, 200, &Value::Object(m))
        }
        ["user-agent"] => {
            only!("GET");
            let mut m = Map::new();
            m.insert("user-agent".into(), Value::from(p.header("User-Agent").unwrap_or("")));
            json_response(ctx, 200, &Value::Object(m))
        }
        ["uuid"] => {
            only!("GET");
            let mut m = Map::new();
            m.insert("uuid".into(), Value::from(rand::uuid_v4()));
            json_response(ctx, 200, &Value::Object(m))
        }
        ["status", code] => status_code(ctx, code),
        ["delay", secs] => {
            return match parse_delay(secs) {
                Some(d) => Action::Delay(d, anything_shape(ctx, &p)),
                None => Action::Respond(error(
                    ctx,
                    400,
                    &format!("delay must be a number of seconds from 0 to {MAX_DELAY_SECS}"),
                )),
            };
        }
        ["bytes", n] => {
            only!("GET");
            bytes(ctx, &p, n)
        }
        ["base64", ..] => {
            only!("GET");
            let value = path.strip_prefix("/base64/").unwrap_or("");
            base64_decode(ctx, value)
        }
        ["response-headers"] => {
            only!("GET", "POST");
            response_headers(ctx, &p)
        }
        ["version"] => {
            only!("GET");
            let mut m = Map::new();
            m.insert("service".into(), Value::from(SERVICE));
            m.insert("flavor".into(), Value::from(ctx.flavor.as_str()));
            m.insert("runtime".into(), Value::from(ctx.runtime));
            m.insert("version".into(), Value::from(VERSION));
            json_response(ctx, 200, &Value::Object(m))
        }
        _ => error(ctx, 404, &format!("no route for {path}")),
    };
    Action::Respond(resp)
}

fn get_shape(ctx: &Ctx, p: &Parsed) -> Response {
    let mut m = Map::new();
    m.insert("args".into(), p.args());
    m.insert("headers".into(), p.headers_value());
    m.insert("method".into(), Value::from(p.req.method.as_str()));
    m.insert("origin".into(), Value::from(p.origin()));
    m.insert("url".into(), Value::from(p.url()));
    m.insert("flavor".into(), Value::from(ctx.flavor.as_str()));
    json_response(ctx, 200, &Value::Object(m))
}

fn anything_shape(ctx: &Ctx, p: &Parsed) -> Response {
    let body = &p.req.body;
    let (full_ct, ct) = p.content_type();
    let is_json = ct == "application/json";
    let is_form = ct == "application/x-www-form-urlencoded";
    let is_text = is_json || is_form || ct.starts_with("text/");

    let data = if body.is_empty() {
        String::new()
    } else {
        match std::str::from_utf8(body) {
            Ok(s) if is_text => s.to_string(),
            _ => {
                let media = if full_ct.trim().is_empty() {
                    "application/octet-stream".to_string()
                } else {
                    full_ct.trim().to_string()
                };
                format!(
                    "data:{media};base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(body)
                )
            }
        }
    };
    let json = if is_json {
        serde_json::from_slice::<Value>(body).map(sorted).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let form = if is_form {
        let mut f: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            f.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        multimap(f)
    } else {
        Value::Object(Map::new())
    };

    let mut m = Map::new();
    m.insert("args".into(), p.args());
    m.insert("headers".into(), p.headers_value());
    m.insert("method".into(), Value::from(p.req.method.as_str()));
    m.insert("origin".into(), Value::from(p.origin()));
    m.insert("url".into(), Value::from(p.url()));
    m.insert("data".into(), Value::from(data));
    m.insert("files".into(), Value::Object(Map::new()));
    m.insert("form".into(), form);
    m.insert("json".into(), json);
    m.insert("flavor".into(), Value::from(ctx.flavor.as_str()));
    json_response(ctx, 200, &Value::Object(m))
}

fn status_code(ctx: &Ctx, code: &str) -> Response {
    let code: u16 = match code.parse() {
        Ok(c) if code.bytes().all(|b| b.is_ascii_digit()) && (100..=599).contains(&c) => c,
        _ => return error(ctx, 400, "status code must be an integer from 100 to 599"),
    };
    if code < 200 {
        // An informational status cannot end an HTTP/1.1 exchange: the client would wait for the
        // final response forever, and wasi:http hosts refuse it. Say so instead of hanging.
        return error(ctx, 400, "informational (1xx) status codes cannot be a final response");
    }
    let mut r = Response { status: code, headers: base_headers(ctx, None), body: Vec::new() };
    match code {
        418 => {
            r.headers.insert(0, ("Content-Type".into(), "text/plain; charset=utf-8".into()));
            r.body = b"I'm a teapot!".to_vec();
        }
        301 | 302 | 303 | 305 | 307 => r.headers.push(("Location".into(), "/redirect/1".into())),
        401 => r.headers.push(("WWW-Authenticate".into(), "Basic realm=\"Fake Realm\"".into())),
        _ => {}
    }
    r
}

fn parse_delay(s: &str) -> Option<Duration> {
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = s.parse().ok()?;
    if !(0.0..=MAX_DELAY_SECS).contains(&secs) {
        return None;
    }
    Some(Duration::from_secs_f64(secs))
}

fn bytes(ctx: &Ctx, p: &Parsed, n: &str) -> Response {
    let n: u64 = match n.parse() {
        Ok(v) if v <= MAX_BYTES && n.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => return error(ctx, 400, &format!("number of bytes must be from 0 to {MAX_BYTES}")),
    };
    let mut seed = None;
    if let Some(q) = &p.query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if k == "seed" {
                match v.parse::<i64>() {
                    Ok(s) => seed = Some(s as u64),
                    Err(_) => return error(ctx, 400, "seed must be an integer"),
                }
            }
        }
    }
    let body = rand::bytes(n as usize, seed);
    let mut r = Response {
        status: 200,
        headers: base_headers(ctx, Some("application/octet-stream")),
        body,
    };
    r.headers.push(("Content-Length".into(), n.to_string()));
    r
}

fn base64_decode(ctx: &Ctx, value: &str) -> Response {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let v = value.trim();
    let decoded = URL_SAFE
        .decode(v)
        .or_else(|_| URL_SAFE_NO_PAD.decode(v))
        .or_else(|_| STANDARD.decode(v))
        .or_else(|_| STANDARD_NO_PAD.decode(v));
    match decoded {
        Ok(bytes) if !v.is_empty() => Response {
            status: 200,
            headers: base_headers(ctx, Some("text/plain; charset=utf-8")),
            body: bytes,
        },
        _ => error(ctx, 400, "value is not valid base64"),
    }
}

/// A header value we can safely send: visible ASCII, spaces and tabs (no CR/LF/NUL).
fn is_safe_value(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn response_headers(ctx: &Ctx, p: &Parsed) -> Response {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(q) = &p.query {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            let (k, v) = (k.into_owned(), v.into_owned());
            if k.is_empty() || !k.bytes().all(is_token_byte) || !is_safe_value(&v) {
                return error(ctx, 400, "response header names must be tokens and values printable ASCII");
            }
            let lower = k.to_ascii_lowercase();
            if is_hop_by_hop(&lower)
                || ["content-length", "host", "x-workload-flavor", "date", "http2-settings"]
                    .contains(&lower.as_str())
            {
                return error(ctx, 400, &format!("response header {k} cannot be set"));
            }
            pairs.push((k, v.trim().to_string()));
        }
    }
    let mut body: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let user_ct: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.clone())
        .collect();
    let ct = if user_ct.is_empty() { vec![JSON.to_string()] } else { user_ct };
    for (k, v) in &pairs {
        if !k.eq_ignore_ascii_case("content-type") {
            body.entry(k.clone()).or_default().push(v.clone());
        }
    }
    body.insert("Content-Type".into(), ct.clone());
    let mut r = json_response(ctx, 200, &multimap(body));
    r.headers.retain(|(n, _)| n != "Content-Type");
    for c in ct {
        r.headers.push(("Content-Type".into(), c));
    }
    for (k, v) in pairs {
        if !k.eq_ignore_ascii_case("content-type") {
            r.headers.push((k, v));
        }
    }
    r
}

#[cfg(test)]
mod tests;
