//! containerd-shim-wasmtime-v1: wasm-lab's containerd shim for Wasmtime.
//!
//! Built on runwasi's `containerd-shim-wasm` library, which does the containerd/OCI side (one
//! Linux container per wasm container, stdio, cgroups, namespaces); this file only decides how a
//! wasm binary is run once the library has entered the container:
//!
//! * a core module (wasip1): `_start` (or the function named after `#` in argv[0]);
//! * a component exporting `wasi:http/incoming-handler`: an HTTP/1.1 server on
//!   `WASMTIME_HTTP_PROXY_SOCKET_ADDR` (container env, else shim env, else `0.0.0.0:8080`), one
//!   fresh instance per request, like upstream's shim and `wasmtime serve`;
//! * any other component: a wasip2 command (`wasi:cli/run`).
//!
//! Guests see the container's args and env, its root filesystem as `/` and the host network of
//! the container's network namespace. SIGTERM/SIGINT end the guest (exit 128+signal): the guest is
//! the init of its PID namespace, where default signal dispositions would be ignored.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, WasmBinaryType};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{version, Cli, Config, Shim, Version};
use hyper::server::conn::http1;
use wasmtime::component::{Component, Linker as ComponentLinker, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

const HTTP_ADDR_ENV: &str = "WASMTIME_HTTP_PROXY_SOCKET_ADDR";
const HTTP_ADDR_DEFAULT: &str = "0.0.0.0:8080";
const HTTP_HANDLER_EXPORT: &str = "wasi:http/incoming-handler";

struct WasmtimeShim;

impl Shim for WasmtimeShim {
    type Sandbox = WasmtimeSandbox;

    fn name() -> &'static str {
        "wasmtime"
    }

    fn version() -> Version {
        version!()
    }
}

#[derive(Default)]
struct WasmtimeSandbox;

/// What the guest is given: the container's argv and environment.
#[derive(Clone)]
struct Guest {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Guest {
    fn from_ctx(ctx: &impl RuntimeContext) -> Self {
        let envs = ctx
            .envs()
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self { args: ctx.args().to_vec(), envs }
    }

    fn env(&self, key: &str) -> Option<&str> {
        self.envs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn wasi(&self) -> Result<WasiCtxBuilder> {
        let mut b = WasiCtxBuilder::new();
        b.args(&self.args)
            .envs(&self.envs)
            .inherit_stdio()
            .inherit_network()
            .allow_ip_name_lookup(true)
            .allow_tcp(true)
            .allow_udp(true);
        // The library runs us inside the container with its rootfs as "/".
        // (wasmtime::Error is not a std Error, so no anyhow `.context` on it.)
        b.preopened_dir("/", "/", FsPerms::ReadWrite)
            .map_err(|e| anyhow!("preopening the container's root filesystem: {e:?}"))?;
        Ok(b)
    }
}

/// Store data for components: WASI p2 plus wasi:http.
struct ComponentState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

impl Sandbox for WasmtimeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        exit_on_termination_signals();
        let guest = Guest::from_ctx(ctx);
        let entrypoint = ctx.entrypoint();
        let func = entrypoint.func.clone();
        let bytes = entrypoint.source.as_bytes()?.into_owned();

        let engine = Engine::new(&wasmtime::Config::new())?;
        match WasmBinaryType::from_bytes(&bytes) {
            Some(WasmBinaryType::Module) => run_module(&engine, &bytes, &func, &guest).await,
            Some(WasmBinaryType::Component) => {
                let component = Component::from_binary(&engine, &bytes)?;
                let is_http_handler = component
                    .component_type()
                    .exports(&engine)
                    .any(|(name, _)| name.starts_with(HTTP_HANDLER_EXPORT));
                if is_http_handler {
                    serve_http(engine, component, guest).await
                } else {
                    run_command(&engine, &component, &guest).await
                }
            }
            None => bail!("the entrypoint is neither a wasm module nor a component"),
        }
    }
}

fn exit_code(err: wasmtime::Error) -> Result<i32> {
    match err.downcast_ref::<I32Exit>() {
        Some(exit) => Ok(exit.0),
        None => Err(anyhow!("{err:?}")),
    }
}

async fn run_module(engine: &Engine, bytes: &[u8], func: &str, guest: &Guest) -> Result<i32> {
    let module = Module::from_binary(engine, bytes)?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |t| t)?;
    let mut store = Store::new(engine, guest.wasi()?.build_p1());
    let instance = linker.instantiate_async(&mut store, &module).await?;
    let start = instance.get_typed_func::<(), ()>(&mut store, func)?;
    match start.call_async(&mut store, ()).await {
        Ok(()) => Ok(0),
        Err(err) => exit_code(err),
    }
}

fn component_linker(engine: &Engine) -> Result<ComponentLinker<ComponentState>> {
    let mut linker = ComponentLinker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

fn component_store(engine: &Engine, guest: &Guest) -> Result<Store<ComponentState>> {
    let state = ComponentState {
        wasi: guest.wasi()?.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
    };
    Ok(Store::new(engine, state))
}

async fn run_command(engine: &Engine, component: &Component, guest: &Guest) -> Result<i32> {
    let linker = component_linker(engine)?;
    let mut store = component_store(engine, guest)?;
    let command =
        wasmtime_wasi::p2::bindings::Command::instantiate_async(&mut store, component, &linker)
            .await?;
    match command.wasi_cli_run().call_run(&mut store).await {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(err) => exit_code(err),
    }
}

struct HttpServer {
    pre: ProxyPre<ComponentState>,
    guest: Guest,
}

async fn serve_http(engine: Engine, component: Component, guest: Guest) -> Result<i32> {
    let addr = guest
        .env(HTTP_ADDR_ENV)
        .map(str::to_string)
        .or_else(|| std::env::var(HTTP_ADDR_ENV).ok())
        .unwrap_or_else(|| HTTP_ADDR_DEFAULT.to_string());
    let addr: SocketAddr = addr.parse().with_context(|| format!("{HTTP_ADDR_ENV}={addr}"))?;

    let linker = component_linker(&engine)?;
    let pre = ProxyPre::new(linker.instantiate_pre(&component)?)?;
    let server = Arc::new(HttpServer { pre, guest });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    log::info!("serving wasi:http on {addr}");
    eprintln!("Serving HTTP on http://{addr}/");

    loop {
        let (stream, peer) = listener.accept().await?;
        let server = server.clone();
        tokio::task::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { server.handle(req).await }
            });
            if let Err(err) =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await
            {
                log::warn!("error serving {peer}: {err:?}");
            }
        });
    }
}

impl HttpServer {
    async fn handle(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let mut store = component_store(self.pre.engine(), &self.guest)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(tx)?;
        let pre = self.pre.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, req, out).await
        });
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => Err(anyhow!("guest answered with an error: {code:?}")),
            Err(_) => {
                let why = match task.await {
                    Ok(Ok(())) => anyhow!("the guest did not set a response"),
                    Ok(Err(err)) => anyhow!("{err:?}"),
                    Err(err) => anyhow!(err),
                };
                Err(why.context("handling the request"))
            }
        }
    }
}

/// Makes SIGTERM and SIGINT end the process: as PID 1 of the container's PID namespace the guest
/// would otherwise ignore them, and `kubectl delete` would wait for the grace period.
fn exit_on_termination_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    match signal_hook::iterator::Signals::new([SIGTERM, SIGINT]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    std::process::exit(128 + sig);
                }
            });
        }
        Err(err) => log::warn!("cannot handle termination signals: {err}"),
    }
}

fn main() {
    WasmtimeShim::run(Config::default());
}
