//! httpbin as a wasm32-wasip2 component exporting `wasi:http/incoming-handler` (the proxy
//! world): `wasmtime serve`, runwasi's wasmtime shim. The host owns the socket and calls
//! `handle` once per request in a fresh instance, so a `/delay` blocks only its own instance.
//! The host strips `Host` and hop-by-hop headers: the request authority stands in for Host.
//! FLAVOR comes from the environment when the host passes it (wasi:cli/environment).

pub const DEFAULT_FLAVOR: &str = "runtime-wasmtime";

#[cfg(target_os = "wasi")]
mod component {
    use std::io::{Read, Write};

    use httpbin_core::{self as core, Ctx};
    use wasip2::http::types::{
        Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam, Scheme,
    };

    struct Httpbin;

    wasip2::http::proxy::export!(Httpbin);

    fn method_name(m: &Method) -> String {
        match m {
            Method::Get => "GET".into(),
            Method::Head => "HEAD".into(),
            Method::Post => "POST".into(),
            Method::Put => "PUT".into(),
            Method::Delete => "DELETE".into(),
            Method::Connect => "CONNECT".into(),
            Method::Options => "OPTIONS".into(),
            Method::Trace => "TRACE".into(),
            Method::Patch => "PATCH".into(),
            Method::Other(s) => s.clone(),
        }
    }

    fn flavor_from_env() -> Option<String> {
        wasip2::cli::environment::get_environment()
            .into_iter()
            .find(|(k, _)| k == "FLAVOR")
            .map(|(_, v)| v)
    }

    enum BodyRead {
        Ok(Vec<u8>),
        TooLarge,
        Failed,
    }

    fn read_body(request: &IncomingRequest) -> BodyRead {
        let Ok(body) = request.consume() else { return BodyRead::Failed };
        let mut data = Vec::new();
        {
            let Ok(mut stream) = body.stream() else { return BodyRead::Failed };
            // One byte past the limit tells "too large" from "exactly the limit".
            let mut limited = (&mut stream).take(core::MAX_BODY as u64 + 1);
            if limited.read_to_end(&mut data).is_err() {
                return BodyRead::Failed;
            }
        }
        drop(body);
        if data.len() > core::MAX_BODY {
            BodyRead::TooLarge
        } else {
            BodyRead::Ok(data)
        }
    }

    fn send(out: ResponseOutparam, method: &str, resp: core::Response) {
        let bodyless = core::status::bodyless(method, resp.status);
        let fields = Fields::new();
        for (name, value) in &resp.headers {
            if name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            // The host refuses forbidden or malformed headers; skip rather than fail the response.
            let _ = fields.append(&name.to_ascii_lowercase(), value.as_bytes());
        }
        if !bodyless {
            let _ = fields.set("content-length", &[resp.body.len().to_string().into_bytes()]);
        }
        let response = OutgoingResponse::new(fields);
        let _ = response.set_status_code(resp.status);
        let Ok(body) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if !bodyless {
            if let Ok(mut stream) = body.write() {
                let _ = stream.write_all(&resp.body);
                let _ = stream.flush();
            }
        }
        let _ = OutgoingBody::finish(body, None);
    }

    impl wasip2::exports::http::incoming_handler::Guest for Httpbin {
        fn handle(request: IncomingRequest, out: ResponseOutparam) {
            let ctx = Ctx::new("wasmtime", super::DEFAULT_FLAVOR, flavor_from_env());
            let method = method_name(&request.method());
            let headers = request.headers().entries();
            let target = request.path_with_query().unwrap_or_else(|| "/".into());
            // The host's own limits are larger than the other builds': apply the same ones here.
            if target.len() > core::MAX_HEAD {
                return send(out, &method, core::error(&ctx, 414, "request target too long"));
            }
            let head_size: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
            if head_size + target.len() > core::MAX_HEAD {
                return send(out, &method, core::error(&ctx, 431, "request head too large"));
            }
            let declared = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > core::MAX_BODY as u64) {
                return send(out, &method, core::too_large(&ctx));
            }
            let body = match read_body(&request) {
                BodyRead::Ok(b) => b,
                BodyRead::TooLarge => return send(out, &method, core::too_large(&ctx)),
                BodyRead::Failed => {
                    return send(out, &method, core::error(&ctx, 400, "cannot read the request body"))
                }
            };
            let scheme = request.scheme().map(|s| match s {
                Scheme::Http => "http".to_string(),
                Scheme::Https => "https".to_string(),
                Scheme::Other(o) => o,
            });
            let req = core::Request {
                method: method.clone(),
                target,
                headers,
                body,
                peer: None,
                authority: request.authority(),
                scheme,
            };
            let (delay, resp) = core::handle(&ctx, &req).into_parts();
            if !delay.is_zero() {
                let ns = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
                wasip2::clocks::monotonic_clock::subscribe_duration(ns).block();
            }
            send(out, &method, resp);
        }
    }
}
