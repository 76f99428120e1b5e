//! The lab's WASI job: a command module (wasm32-wasip1, and the same source as a native binary)
//! that shows what a runtime hands a program: its arguments, the environment variables it is asked
//! about, files from mounted directories, and the exit code it ends with.
//!
//! usage: wasi-job [--env NAME]... [--read PATH]... [--exit CODE] [WORD]...
//! Every line it prints is the same under every runtime that passes these through faithfully.

use std::process::ExitCode;

struct Request {
    env: Vec<String>,
    read: Vec<String>,
    exit: u8,
    words: Vec<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Request, String> {
    let mut request = Request { env: Vec::new(), read: Vec::new(), exit: 0, words: Vec::new() };
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--env" => request.env.push(value("--env")?),
            "--read" => request.read.push(value("--read")?),
            "--exit" => {
                let code = value("--exit")?;
                request.exit = code.parse().map_err(|_| format!("--exit {code}: not a code 0..255"))?;
            }
            _ => request.words.push(arg),
        }
    }
    Ok(request)
}

fn main() -> ExitCode {
    let request = match parse(std::env::args().skip(1)) {
        Ok(request) => request,
        Err(problem) => {
            eprintln!("wasi-job: {problem}");
            return ExitCode::from(2);
        }
    };
    println!("wasi-job: a WASI command module");
    println!("args: {}", request.words.join(" "));
    for name in &request.env {
        match std::env::var(name) {
            Ok(value) => println!("env {name}={value}"),
            Err(_) => println!("env {name} unset"),
        }
    }
    for path in &request.read {
        match std::fs::read_to_string(path) {
            Ok(text) => println!("file {path}: {}", text.trim_end()),
            Err(error) => println!("file {path}: cannot be read ({:?})", error.kind()),
        }
    }
    println!("exit {}", request.exit);
    ExitCode::from(request.exit)
}
