//! containerd-shim-wasmedge-v1: wasm-lab's containerd shim for WasmEdge.
//!
//! Built on runwasi's `containerd-shim-wasm` library (containerd/OCI side) and the WasmEdge Rust
//! SDK over the node's `libwasmedge.so.0` (Debian trixie's libwasmedge0, WasmEdge 0.14). It runs
//! wasip1 modules through libwasmedge's own WASI implementation, which includes WasmEdge's socket
//! extension (`sock_open_v2`, `sock_bind_v2`, `sock_listen_v2`, `sock_accept_v2`, ...), so guests
//! built with e.g. the `wasmedge_wasi_socket` crate can serve TCP. Components are not supported
//! (WasmEdge does not run wasip2).
//!
//! Guests see the container's args and env, its root filesystem as `/` and the network of the
//! container's network namespace. SIGTERM/SIGINT end the guest (exit 128+signal): the guest is
//! the init of its PID namespace, where default signal dispositions would be ignored.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use containerd_shim_wasm::sandbox::context::{RuntimeContext, WasmBinaryType};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{version, Cli, Config, Shim, Version};
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sdk::{Module, Store, Vm};

struct WasmEdgeShim;

impl Shim for WasmEdgeShim {
    type Sandbox = WasmEdgeSandbox;

    fn name() -> &'static str {
        "wasmedge"
    }

    fn version() -> Version {
        version!()
    }

    // Only plain wasm layers: WasmEdge runs core modules, not components.
    fn supported_layers_types() -> &'static [&'static str] {
        &["application/vnd.bytecodealliance.wasm.component.layer.v0+wasm", "application/wasm"]
    }
}

#[derive(Default)]
struct WasmEdgeSandbox;

impl Sandbox for WasmEdgeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        exit_on_termination_signals();
        let args = ctx.args().to_vec();
        let envs = ctx.envs().to_vec();
        let entrypoint = ctx.entrypoint();
        let func = entrypoint.func.clone();
        let bytes = entrypoint.source.as_bytes()?.into_owned();
        match WasmBinaryType::from_bytes(&bytes) {
            Some(WasmBinaryType::Module) => run_module(&bytes, &func, &args, &envs),
            Some(WasmBinaryType::Component) => {
                bail!("WasmEdge runs wasip1 modules, not components: use the wasmtime runtime")
            }
            None => bail!("the entrypoint is not a wasm module"),
        }
    }
}

/// Runs `func` of the module with libwasmedge's WASI (and socket extension). Synchronous: the
/// WasmEdge handles are not `Send`, so they never live across an `.await`.
fn run_module(bytes: &[u8], func: &str, args: &[String], envs: &[String]) -> Result<i32> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let envs: Vec<&str> = envs.iter().map(String::as_str).collect();
    // The library runs us inside the container, whose rootfs is "/": preopen it as "/".
    let mut wasi = WasiModule::create(Some(args), Some(envs), Some(vec!["/:/"]))
        .map_err(|e| anyhow!("creating the WASI module: {e}"))?;
    let result = {
        let mut instances = HashMap::new();
        instances.insert(wasi.name().to_string(), wasi.as_mut());
        let store = Store::new(None, instances).map_err(|e| anyhow!("creating the store: {e}"))?;
        let mut vm = Vm::new(store);
        let module = Module::from_bytes(None, bytes).map_err(|e| anyhow!("loading the module: {e}"))?;
        vm.register_module(None, module).map_err(|e| anyhow!("instantiating the module: {e}"))?;
        vm.run_func(None, func, []).map(|_| ())
    };
    // proc_exit ends the run with a "terminated" error and records the exit code in WASI.
    let code = wasi.exit_code() as i32;
    match result {
        Ok(()) => Ok(code),
        Err(err) if is_termination(&err) => Ok(code),
        Err(err) => Err(anyhow!("running {func}: {err}")),
    }
}

fn is_termination(err: &wasmedge_sdk::error::WasmEdgeError) -> bool {
    use wasmedge_sdk::error::{CoreCommonError, CoreError, WasmEdgeError};
    matches!(err, WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated)))
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
    WasmEdgeShim::run(Config::default());
}
