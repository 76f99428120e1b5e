//! A sans-IO HTTP/1.1 server connection: bytes in, bytes out, deadlines. The event loop in
//! main.rs moves bytes between sockets and [`Conn`]s; nothing here touches a socket, so the
//! protocol logic is unit-tested on the host.
//!
//! Defences: heads over [`core::MAX_HEAD`] → 431 (414 when the request line alone is too long),
//! bodies over [`core::MAX_BODY`] → 413, a request that does not arrive within [`READ_TIMEOUT`]
//! → 408 (or a silent close when nothing was sent), a peer that stops reading for
//! [`WRITE_TIMEOUT`] is dropped. Every error closes the connection after the answer.

use std::time::{Duration, Instant};

use httpbin_core::{self as core, Ctx};

pub const READ_TIMEOUT: Duration = Duration::from_secs(15);
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_HEADERS: usize = 128;
/// Stop reading while this much output is waiting (pipelining clients cannot flood memory).
const MAX_PENDING_OUTPUT: usize = 1 << 20;

#[derive(Debug)]
enum Body {
    Length(usize),
    Chunked(ChunkState),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ChunkState {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

#[derive(Debug)]
enum State {
    Head,
    Body { req: core::Request, body: Body, keep_alive: bool },
    Waiting { until: Instant, method: String, resp: core::Response, keep_alive: bool },
    Closing,
}

pub struct Conn {
    inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    state: State,
    peer: Option<String>,
    read_closed: bool,
    /// Deadline of the current read phase (a request must arrive by then).
    read_deadline: Instant,
    /// Last time output made progress.
    write_progress: Instant,
}

impl Conn {
    pub fn new(peer: Option<String>, now: Instant) -> Conn {
        Conn {
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            state: State::Head,
            peer,
            read_closed: false,
            read_deadline: now + READ_TIMEOUT,
            write_progress: now,
        }
    }

    fn pending_output(&self) -> usize {
        self.out.len() - self.out_pos
    }

    pub fn wants_read(&self) -> bool {
        !self.read_closed
            && matches!(self.state, State::Head | State::Body { .. })
            && self.pending_output() < MAX_PENDING_OUTPUT
    }

    pub fn wants_write(&self) -> bool {
        self.pending_output() > 0
    }

    /// Finished: nothing more to send and nothing more will come.
    pub fn is_done(&self) -> bool {
        self.pending_output() == 0
            && (matches!(self.state, State::Closing)
                || (self.read_closed && matches!(self.state, State::Head)))
    }

    pub fn output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    pub fn consumed(&mut self, n: usize, now: Instant) {
        self.out_pos += n;
        if n > 0 {
            self.write_progress = now;
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }

    /// The earliest time [`Conn::on_timer`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d = match &self.state {
            State::Waiting { until, .. } => Some(*until),
            State::Head | State::Body { .. } if !self.read_closed => Some(self.read_deadline),
            _ => None,
        };
        if self.wants_write() {
            let w = self.write_progress + WRITE_TIMEOUT;
            d = Some(d.map_or(w, |x| x.min(w)));
        }
        d
    }

    /// The peer closed its sending side.
    pub fn on_eof(&mut self, ctx: &Ctx, now: Instant) {
        self.read_closed = true;
        match &self.state {
            State::Body { .. } => {
                // The request was cut short; nobody will read an answer reliably. Just close.
                self.state = State::Closing;
            }
            State::Head if !self.inbuf.is_empty() => {
                self.fail(ctx, 400, "incomplete request");
            }
            _ => {}
        }
        let _ = now;
    }

    pub fn on_read(&mut self, data: &[u8], ctx: &Ctx, now: Instant) {
        if matches!(self.state, State::Closing) {
            return;
        }
        self.inbuf.extend_from_slice(data);
        self.process(ctx, now);
    }

    pub fn on_timer(&mut self, ctx: &Ctx, now: Instant) {
        if self.wants_write() && now >= self.write_progress + WRITE_TIMEOUT {
            // The peer stopped reading: give up on it.
            self.out.clear();
            self.out_pos = 0;
            self.state = State::Closing;
            return;
        }
        match &self.state {
            State::Waiting { until, .. } if now >= *until => {
                if let State::Waiting { method, resp, keep_alive, .. } =
                    std::mem::replace(&mut self.state, State::Head)
                {
                    self.respond(&method, &resp, keep_alive, now);
                    self.process(ctx, now);
                }
            }
            State::Head | State::Body { .. } if !self.read_closed && now >= self.read_deadline => {
                if self.inbuf.is_empty() && matches!(self.state, State::Head) {
                    self.state = State::Closing; // idle keep-alive connection
                } else {
                    self.fail(ctx, 408, "request not received in time");
                }
            }
            _ => {}
        }
    }

    /// Answer with an error and close.
    fn fail(&mut self, ctx: &Ctx, status: u16, detail: &str) {
        let resp = if status == 413 { core::too_large(ctx) } else { core::error(ctx, status, detail) };
        self.write_response("GET", &resp, false);
        self.inbuf.clear();
        self.state = State::Closing;
    }

    fn respond(&mut self, method: &str, resp: &core::Response, keep_alive: bool, now: Instant) {
        self.write_response(method, resp, keep_alive);
        if keep_alive {
            self.state = State::Head;
            self.read_deadline = now + READ_TIMEOUT;
        } else {
            self.state = State::Closing;
        }
    }

    fn write_response(&mut self, method: &str, resp: &core::Response, keep_alive: bool) {
        if self.out.is_empty() {
            self.write_progress = Instant::now();
        }
        let reason = core::status::reason(resp.status).unwrap_or("");
        self.out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", resp.status, reason).as_bytes());
        for (name, value) in &resp.headers {
            if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("connection") {
                continue;
            }
            if name.bytes().all(core::is_token_byte) && !value.bytes().any(|b| b == b'\r' || b == b'\n') {
                self.out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            }
        }
        if resp.status != 204 && resp.status != 304 && resp.status >= 200 {
            self.out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
        }
        if !keep_alive {
            self.out.extend_from_slice(b"Connection: close\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
        if !core::status::bodyless(method, resp.status) {
            self.out.extend_from_slice(&resp.body);
        }
    }

    fn process(&mut self, ctx: &Ctx, now: Instant) {
        loop {
            match &mut self.state {
                State::Head => {
                    if self.inbuf.is_empty() {
                        return;
                    }
                    // Tolerate empty lines before a request (RFC 9112 §2.2).
                    while self.inbuf.starts_with(b"\r\n") {
                        self.inbuf.drain(..2);
                    }
                    match self.parse_head() {
                        Ok(Some(())) => continue,
                        Ok(None) => {
                            if self.inbuf.len() > core::MAX_HEAD {
                                let line_len = self.inbuf.iter().position(|&b| b == b'\n');
                                let status = if line_len.is_none() { 414 } else { 431 };
                                self.fail(ctx, status, "request head too large");
                            }
                            return;
                        }
                        Err((status, why)) => {
                            self.fail(ctx, status, why);
                            return;
                        }
                    }
                }
                State::Body { body, .. } => match body {
                    Body::Length(n) => {
                        let n = *n;
                        if self.inbuf.len() < n {
                            return;
                        }
                        let rest = self.inbuf.split_off(n);
                        let chunk = std::mem::replace(&mut self.inbuf, rest);
                        if let State::Body { req, .. } = &mut self.state {
                            req.body = chunk;
                        }
                        self.dispatch(ctx, now);
                    }
                    Body::Chunked(_) => match self.step_chunked() {
                        Ok(true) => self.dispatch(ctx, now),
                        Ok(false) => return,
                        Err((status, why)) => {
                            self.fail(ctx, status, why);
                            return;
                        }
                    },
                },
                State::Waiting { .. } | State::Closing => return,
            }
        }
    }

    /// Parse a complete head out of `inbuf`, moving to `State::Body`. Ok(None): need more bytes.
    fn parse_head(&mut self) -> Result<Option<()>, (u16, &'static str)> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut storage);
        let status = match parsed.parse(&self.inbuf) {
            Ok(s) => s,
            Err(httparse::Error::TooManyHeaders) => return Err((431, "too many headers")),
            Err(_) => return Err((400, "malformed request")),
        };
        let httparse::Status::Complete(head_len) = status else {
            return Ok(None);
        };
        let method = parsed.method.unwrap_or("").to_string();
        let target = parsed.path.unwrap_or("").to_string();
        let version = parsed.version.unwrap_or(1);
        let mut headers = Vec::with_capacity(parsed.headers.len());
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut te_seen = false;
        let mut conn_close = version == 0;
        let mut expect_continue = false;
        for h in parsed.headers.iter() {
            let lower = h.name.to_ascii_lowercase();
            let value = String::from_utf8_lossy(h.value).trim().to_ascii_lowercase();
            match lower.as_str() {
                "content-length" => {
                    let n: u64 = value.parse().map_err(|_| (400, "invalid Content-Length"))?;
                    if content_length.is_some_and(|c| c != n) {
                        return Err((400, "conflicting Content-Length headers"));
                    }
                    content_length = Some(n);
                }
                "transfer-encoding" => {
                    te_seen = true;
                    chunked = value.rsplit(',').next().map(str::trim) == Some("chunked");
                }
                "connection" => {
                    for token in value.split(',').map(str::trim) {
                        if token == "close" {
                            conn_close = true;
                        } else if token == "keep-alive" && version == 0 {
                            conn_close = false;
                        }
                    }
                }
                "expect" => expect_continue = value == "100-continue",
                _ => {}
            }
            headers.push((h.name.to_string(), h.value.to_vec()));
        }
        self.inbuf.drain(..head_len);
        if te_seen && !chunked {
            return Err((400, "unsupported Transfer-Encoding"));
        }
        if te_seen && content_length.is_some() {
            return Err((400, "both Transfer-Encoding and Content-Length"));
        }
        let body = if chunked {
            Body::Chunked(ChunkState::Size)
        } else {
            let n = content_length.unwrap_or(0);
            if n > core::MAX_BODY as u64 {
                return Err((413, "body too large"));
            }
            Body::Length(n as usize)
        };
        let needs_body = !matches!(body, Body::Length(0));
        if expect_continue && needs_body && version == 1 {
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let req = core::Request {
            method,
            target,
            headers,
            body: Vec::new(),
            peer: self.peer.clone(),
            authority: None,
            scheme: None,
        };
        self.state = State::Body { req, body, keep_alive: !conn_close };
        Ok(Some(()))
    }

    /// Decode as much chunked body as `inbuf` holds. Ok(true): body complete.
    fn step_chunked(&mut self) -> Result<bool, (u16, &'static str)> {
        let State::Body { req, body: Body::Chunked(cs), .. } = &mut self.state else {
            return Ok(false);
        };
        loop {
            match *cs {
                ChunkState::Size => {
                    let Some(eol) = find_crlf(&self.inbuf) else {
                        if self.inbuf.len() > 1024 {
                            return Err((400, "chunk size line too long"));
                        }
                        return Ok(false);
                    };
                    let line = String::from_utf8_lossy(&self.inbuf[..eol]).to_string();
                    let size_str = line.split(';').next().unwrap_or("").trim();
                    if size_str.is_empty() || size_str.len() > 8 {
                        return Err((400, "invalid chunk size"));
                    }
                    let size = usize::from_str_radix(size_str, 16).map_err(|_| (400, "invalid chunk size"))?;
                    self.inbuf.drain(..eol + 2);
                    if size == 0 {
                        *cs = ChunkState::Trailers;
                    } else {
                        if req.body.len() + size > core::MAX_BODY {
                            return Err((413, "body too large"));
                        }
                        *cs = ChunkState::Data(size);
                    }
                }
                ChunkState::Data(left) => {
                    if self.inbuf.is_empty() {
                        return Ok(false);
                    }
                    let take = left.min(self.inbuf.len());
                    req.body.extend(self.inbuf.drain(..take));
                    *cs = if take == left { ChunkState::DataEnd } else { ChunkState::Data(left - take) };
                }
                ChunkState::DataEnd => {
                    if self.inbuf.len() < 2 {
                        return Ok(false);
                    }
                    if &self.inbuf[..2] != b"\r\n" {
                        return Err((400, "malformed chunk"));
                    }
                    self.inbuf.drain(..2);
                    *cs = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(eol) = find_crlf(&self.inbuf) else {
                        if self.inbuf.len() > core::MAX_HEAD {
                            return Err((431, "trailers too large"));
                        }
                        return Ok(false);
                    };
                    self.inbuf.drain(..eol + 2);
                    if eol == 0 {
                        return Ok(true);
                    }
                }
            }
        }
    }

    fn dispatch(&mut self, ctx: &Ctx, now: Instant) {
        let State::Body { req, keep_alive, .. } = std::mem::replace(&mut self.state, State::Head) else {
            return;
        };
        let method = req.method.clone();
        let (delay, resp) = core::handle(ctx, &req).into_parts();
        if delay.is_zero() {
            self.respond(&method, &resp, keep_alive, now);
        } else {
            self.state = State::Waiting { until: now + delay, method, resp, keep_alive };
        }
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new("wasmedge", "runtime-wasmedge", None)
    }

    fn run(input: &[u8]) -> (Conn, String) {
        let now = Instant::now();
        let mut c = Conn::new(Some("192.0.2.9".into()), now);
        c.on_read(input, &ctx(), now);
        let out = String::from_utf8_lossy(c.output()).to_string();
        (c, out)
    }

    fn done_after_flush(mut c: Conn) -> bool {
        assert!(!c.wants_read());
        let n = c.output().len();
        c.consumed(n, Instant::now());
        c.is_done()
    }

    #[test]
    fn simple_get_keeps_alive() {
        let (c, out) = run(b"GET /get?a=1 HTTP/1.1\r\nHost: h:1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("\"origin\": \"192.0.2.9\""));
        assert!(out.contains("X-Workload-Flavor: runtime-wasmedge\r\n"));
        assert!(!out.contains("Connection: close"));
        assert!(!c.is_done());
        assert!(c.wants_read());
    }

    #[test]
    fn pipelined_requests_answer_in_order() {
        let (_, out) = run(b"GET /status/201 HTTP/1.1\r\nHost: h\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        let a = out.find("201 Created").unwrap();
        let b = out.find("202 Accepted").unwrap();
        assert!(a < b);
        assert!(out.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn byte_by_byte() {
        let now = Instant::now();
        let mut c = Conn::new(None, now);
        let req = b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
        for b in req.iter() {
            c.on_read(&[*b], &ctx(), now);
        }
        let out = String::from_utf8_lossy(c.output()).to_string();
        assert!(out.contains("\"data\": \"hello\""), "{out}");
    }

    #[test]
    fn chunked_body() {
        let (_, out) = run(b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n");
        assert!(out.contains("\"data\": \"hello world\""), "{out}");
    }

    #[test]
    fn limits() {
        let (c, out) = run(b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        assert!(out.contains("Connection: close"));
        assert!(done_after_flush(c));
        let big = format!("GET /get HTTP/1.1\r\nX-Big: {}\r\n", "a".repeat(core::MAX_HEAD + 10));
        let (_, out) = run(big.as_bytes());
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        let big = format!("GET /get?{}", "a".repeat(core::MAX_HEAD + 10));
        let (_, out) = run(big.as_bytes());
        assert!(out.starts_with("HTTP/1.1 414 "), "{out}");
        let chunk = format!("POST /post HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n", core::MAX_BODY + 1);
        let (_, out) = run(chunk.as_bytes());
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    }

    #[test]
    fn garbage_is_400_and_closes() {
        for input in [&b"\x00\x01\x02\r\n\r\n"[..], b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"GET /get HTTP/1.1\r\nBad Header\r\n\r\n"] {
            let (c, out) = run(input);
            assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
            assert!(done_after_flush(c));
        }
    }

    #[test]
    fn invalid_utf8_header_value_is_fine() {
        let (_, out) = run(b"GET /headers HTTP/1.1\r\nHost: h\r\nX-Bin: a\xffb\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        assert!(out.contains("a\u{fffd}b"));
    }

    #[test]
    fn head_has_length_but_no_body() {
        let (_, out) = run(b"HEAD /get HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(out.contains("Content-Length: "));
        assert!(out.ends_with("\r\n\r\n"));
    }

    #[test]
    fn delay_waits_then_answers() {
        let now = Instant::now();
        let mut c = Conn::new(None, now);
        c.on_read(b"GET /delay/0.5 HTTP/1.1\r\nHost: h\r\n\r\n", &ctx(), now);
        assert!(c.output().is_empty());
        assert!(!c.wants_read());
        assert_eq!(c.next_deadline(), Some(now + Duration::from_millis(500)));
        c.on_timer(&ctx(), now + Duration::from_millis(499));
        assert!(c.output().is_empty());
        c.on_timer(&ctx(), now + Duration::from_millis(500));
        assert!(String::from_utf8_lossy(c.output()).starts_with("HTTP/1.1 200 OK"));
    }

    #[test]
    fn slow_client_times_out() {
        let now = Instant::now();
        let mut c = Conn::new(None, now);
        c.on_read(b"GET /get HTTP/1.1\r\nHo", &ctx(), now);
        c.on_timer(&ctx(), now + READ_TIMEOUT);
        assert!(String::from_utf8_lossy(c.output()).starts_with("HTTP/1.1 408 "));
        let mut idle = Conn::new(None, now);
        idle.on_timer(&ctx(), now + READ_TIMEOUT);
        assert!(idle.is_done());
    }

    #[test]
    fn expect_continue() {
        let (_, out) = run(b"POST /post HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
    }
}
