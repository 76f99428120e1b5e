//! httpbin as a native Linux binary: tokio + hyper (HTTP/1.1), one task per connection.
//! Listens on $BIND:$PORT (default 0.0.0.0:3000); FLAVOR overrides the reported flavor.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use httpbin_core::{self as core, Ctx};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Most connections served at once; more are accepted and closed right away.
const MAX_CONNECTIONS: usize = 4096;
/// A client has this long to send a request head, and again for the body.
const READ_TIMEOUT: Duration = Duration::from_secs(15);

fn main() {
    let ctx = Arc::new(Ctx::new("native", "native", std::env::var("FLAVOR").ok()));
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let bind: std::net::IpAddr = std::env::var("BIND")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("httpbin: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(serve(ctx, SocketAddr::new(bind, port))) {
        eprintln!("httpbin: {e}");
        std::process::exit(1);
    }
}

async fn serve(ctx: Arc<Ctx>, addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "httpbin {} ({}) listening on {}",
        core::VERSION,
        ctx.flavor,
        listener.local_addr()?
    );
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    eprintln!("httpbin: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => {
                eprintln!("httpbin: shutting down");
                return Ok(());
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(ctx.clone(), peer, req));
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(READ_TIMEOUT)
                // A client may shut down its sending side and still wait for the answer.
                .half_close(true)
                .max_buf_size(core::MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

async fn handle(
    ctx: Arc<Ctx>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > core::MAX_BODY as u64) {
        return Ok(close(to_hyper(&req_method(&req), core::too_large(&ctx))));
    }
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let body = match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, core::MAX_BODY).collect()).await
    {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Ok(close(to_hyper(&method, core::too_large(&ctx))));
        }
        Ok(Err(_)) => return Ok(close(to_hyper(&method, core::error(&ctx, 400, "cannot read the request body")))),
        Err(_) => return Ok(close(to_hyper(&method, core::error(&ctx, 408, "request body not received in time")))),
    };
    let request = core::Request {
        method: method.clone(),
        target: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body,
        peer: Some(peer.ip().to_canonical().to_string()),
        authority: parts.uri.authority().map(|a| a.to_string()),
        scheme: None,
    };
    let (delay, response) = core::handle(&ctx, &request).into_parts();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(to_hyper(&method, response))
}

fn req_method(req: &Request<Incoming>) -> String {
    req.method().as_str().to_string()
}

fn close(mut r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    r.headers_mut().insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn to_hyper(method: &str, r: core::Response) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if core::status::bodyless(method, r.status) { Vec::new() } else { r.body.clone() };
    let mut out = Response::new(Full::new(Bytes::from(body)));
    *out.status_mut() = status;
    for (name, value) in &r.headers {
        if name.eq_ignore_ascii_case("content-length") {
            continue; // hyper writes the exact length itself
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            out.headers_mut().append(n, v);
        }
    }
    if method.eq_ignore_ascii_case("HEAD") && !core::status::bodyless("GET", r.status) {
        // HEAD answers with the length a GET would have had.
        if let Ok(v) = HeaderValue::from_str(&r.body.len().to_string()) {
            out.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
        }
    }
    out
}
