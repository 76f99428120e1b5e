module wasm-lab.local/kit/podnet

go 1.24
