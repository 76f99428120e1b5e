//! httpbin as a wasm32-wasip1 module for WasmEdge (CLI, crun's WasmEdge handler, runwasi's
//! wasmedge shim). std cannot listen on wasip1, so the socket comes from WasmEdge's socket
//! extension (`wasmedge_wasi_socket`). One thread, non-blocking sockets and one `poll_oneoff`
//! loop: a `/delay` is a timer in that loop, so it never blocks other requests.
//! Listens on $BIND:$PORT (default 0.0.0.0:3000); FLAVOR overrides the reported flavor.

mod h1;

pub const DEFAULT_FLAVOR: &str = "runtime-wasmedge";

#[cfg(target_os = "wasi")]
fn main() {
    use httpbin_core::Ctx;
    let ctx = Ctx::new("wasmedge", DEFAULT_FLAVOR, std::env::var("FLAVOR").ok());
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let bind: std::net::IpAddr = std::env::var("BIND")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if let Err(e) = wasi_server::run(&ctx, std::net::SocketAddr::new(bind, port)) {
        eprintln!("httpbin: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    let _ = DEFAULT_FLAVOR;
    eprintln!("httpbin-wasmedge runs under WasmEdge: build it with --target wasm32-wasip1");
    std::process::exit(2);
}

#[cfg(target_os = "wasi")]
mod wasi_server {
    use std::io::{self, Read, Write};
    use std::time::{Duration, Instant, SystemTime};

    use httpbin_core::Ctx;
    use wasmedge_wasi_socket::poll::{poll, Subscription};
    use wasmedge_wasi_socket::{TcpListener, TcpStream};

    use crate::h1::Conn;

    /// Most connections served at once; the listener is not polled while this many are open.
    const MAX_CONNECTIONS: usize = 1024;
    const LISTENER: u64 = u64::MAX;
    const TIMER: u64 = u64::MAX - 1;

    fn would_block(e: &io::Error) -> bool {
        // WASI errno 6 is EAGAIN.
        e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(6)
    }

    fn interrupted(e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::Interrupted
    }

    pub fn run(ctx: &Ctx, addr: std::net::SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr, true)?;
        eprintln!(
            "httpbin {} ({}) listening on {addr}",
            httpbin_core::VERSION,
            ctx.flavor
        );
        let mut conns: Vec<Option<(TcpStream, Conn)>> = Vec::new();
        let mut open = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let now = Instant::now();
            let mut subs = Vec::with_capacity(open + 2);
            if open < MAX_CONNECTIONS {
                subs.push(Subscription::io(LISTENER, &listener, true, false, None));
            }
            let mut deadline: Option<Instant> = None;
            for (i, slot) in conns.iter().enumerate() {
                if let Some((stream, conn)) = slot {
                    let (r, w) = (conn.wants_read(), conn.wants_write());
                    if r || w {
                        subs.push(Subscription::io(i as u64, stream, r, w, None));
                    }
                    if let Some(d) = conn.next_deadline() {
                        deadline = Some(deadline.map_or(d, |x| x.min(d)));
                    }
                }
            }
            if let Some(d) = deadline {
                let wait = d.saturating_duration_since(now);
                // The extension's clock subscriptions are absolute realtime.
                subs.push(Subscription::timeout(TIMER, SystemTime::now() + wait + Duration::from_millis(1)));
            }
            let events = match poll(&subs) {
                Ok(ev) => ev,
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(e),
            };
            let now = Instant::now();
            let mut accept = false;
            let mut ready: Vec<usize> = Vec::new();
            for ev in &events {
                match ev.userdata {
                    LISTENER => accept = true,
                    TIMER => {}
                    i => ready.push(i as usize),
                }
            }
            if accept {
                while open < MAX_CONNECTIONS {
                    match listener.accept(true) {
                        Ok((stream, peer)) => {
                            let conn = Conn::new(Some(peer.ip().to_string()), now);
                            match conns.iter().position(Option::is_none) {
                                Some(free) => conns[free] = Some((stream, conn)),
                                None => conns.push(Some((stream, conn))),
                            }
                            open += 1;
                        }
                        Err(e) if would_block(&e) => break,
                        Err(e) if interrupted(&e) => continue,
                        Err(e) => {
                            eprintln!("httpbin: accept: {e}");
                            break;
                        }
                    }
                }
            }
            ready.sort_unstable();
            ready.dedup();
            for i in ready {
                let Some(Some((stream, conn))) = conns.get_mut(i) else { continue };
                drive(stream, conn, ctx, &mut buf, now);
            }
            for slot in conns.iter_mut() {
                let mut finished = false;
                if let Some((stream, conn)) = slot {
                    conn.on_timer(ctx, now);
                    if conn.wants_write() {
                        flush(stream, conn, now);
                    }
                    finished = conn.is_done();
                }
                if finished {
                    if let Some((stream, _)) = slot.take() {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                    open -= 1;
                }
            }
        }
    }

    /// Read what is there, feed it to the connection, write what it answers.
    fn drive(stream: &mut TcpStream, conn: &mut Conn, ctx: &Ctx, buf: &mut [u8], now: Instant) {
        while conn.wants_read() {
            match stream.read(buf) {
                Ok(0) => {
                    conn.on_eof(ctx, now);
                    break;
                }
                Ok(n) => conn.on_read(&buf[..n], ctx, now),
                Err(e) if would_block(&e) => break,
                Err(e) if interrupted(&e) => continue,
                Err(_) => {
                    conn.on_eof(ctx, now);
                    break;
                }
            }
        }
        flush(stream, conn, now);
    }

    fn flush(stream: &mut TcpStream, conn: &mut Conn, now: Instant) {
        while conn.wants_write() {
            match stream.write(conn.output()) {
                Ok(0) => break,
                Ok(n) => conn.consumed(n, now),
                Err(e) if would_block(&e) => break,
                Err(e) if interrupted(&e) => continue,
                Err(_) => {
                    // The peer is gone: drop what it will never read.
                    let n = conn.output().len();
                    conn.consumed(n, now);
                    conn.on_eof(&Ctx::new("wasmedge", super::DEFAULT_FLAVOR, None), now);
                    break;
                }
            }
        }
    }
}
