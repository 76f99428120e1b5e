//! `wasmtime`: the wasmtime CLI's `run` and `serve` commands (the `wasmtime-cli` crate's own), and
//! nothing else the lab does not use: what the embed-wasmtime image runs (`wasmtime serve`).

use clap::Parser;

/// Wasmtime WebAssembly Runtime (run and serve only)
#[derive(Parser)]
#[command(name = "wasmtime", version)]
enum Wasmtime {
    /// Runs a WebAssembly module or component
    Run(wasmtime_cli::commands::RunCommand),
    /// Serves requests from a wasi-http proxy component
    Serve(wasmtime_cli::commands::ServeCommand),
}

fn main() -> wasmtime::Result<()> {
    match Wasmtime::parse() {
        Wasmtime::Run(command) => command.execute(),
        Wasmtime::Serve(command) => command.execute(),
    }
}
