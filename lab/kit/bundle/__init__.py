"""Kit bundles: built kit artifacts in one checksummed archive, made on one machine and imported on
others (a trainer's machine to a workshop's laptops, a CI cache, an air-gapped site).

A bundle is an uncompressed tar: `wasm-lab-kit.json` first (what it is for — `build`, the kit with
its builders, or `workshop`, what a lab runs from and the workload images built with those builders
—, each artifact's kit manifest entry and, for an image, the members of its `docker save`
archive), then `blobs/sha256/<hex>`: every file of a
files artifact and every member of an image archive once, named by its content's sha256 (images
share layers); the large ones gzipped, as the index's `encoded` says. `FILE.sha256` beside it holds the whole archive's sha256; an import checks it (or the
digest the user pinned, lab/kit/trust.py) before it reads anything, checks everything the archive
says before it writes anything (lab/kit/bundle_checks.py), then every blob again as it unpacks it
(docs/kit.md, "Bundles" and "Trust model").

One module per job: `layout` (what a bundle is on disk: its sha256 file, members, blobs),
`export` (kit.export), `importer` (kit.import: verify, then load), `download` (the HTTP client of
an import from a URL) and `serve` (kit.serve, the HTTP server)."""
