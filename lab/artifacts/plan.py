"""lab.plan: what resolve() would fetch or build, from where, with which pin and engine, and why,
as one row per artifact and architecture (printed as a table or --json); nothing is fetched or
built, and a cached download counts only while it still matches its pin."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from lab import engines
from lab.artifacts import Resolver, needed
from lab.fetch import Unavailable, download_path
from lab.kit.store import sha256_file
from lab.lock import LockFile
from lab.spec import Offline


def plan(spec, runtimes: tuple[str, ...], variants: tuple[str, ...], provider: str | None,
         arches: tuple[str, ...]) -> list[dict]:
    """What resolve() would fetch or build, from where, with which pin, per architecture."""
    lock = LockFile.load(Path(spec.lock))
    rows: list[dict] = []
    for arch in arches:
        resolver = Resolver(spec.offline, spec.mirrors, lock, arch, provider, spec.kubernetes,
                            node_containerd=spec.node_containerd)
        for name in needed(runtimes, provider, variants):
            add_rows(resolver, name, rows)
    return rows


def add_rows(resolver: Resolver, name: str, rows: list[dict]) -> None:
    """Append one row per artifact (and per input or bundle it brings) to `rows`."""
    if any(r["artifact"] == name and r["arch"] == resolver.arch for r in rows):
        return
    origins = resolver.origins(name)
    notes = []
    for index, origin in enumerate(origins):
        row = {"artifact": name, "arch": resolver.arch, "origin": resolver.describe(origin), "source": "", "pin": "",
               "engine": engines.label(engines.of_origin(origin)), "note": ""}
        try:
            _describe(resolver, name, origin, row)
        except Unavailable as why:
            notes.append(str(why))
            if resolver.mode == Offline.AUTO and index + 1 < len(origins):
                continue
            row["note"] = "; ".join(notes) + ": FAILS"
            rows.append(row)
            return
        row["note"] = "; ".join(notes + ([row["note"]] if row["note"] else []))
        mark = len(rows)
        rows.append(row)
        for dep in list(origin.get("inputs", {}).values()) + list(origin.get("needs", [])):
            add_rows(resolver, dep, rows)
        lacking = [r["artifact"] for r in rows if r["artifact"] in origin.get("inputs", {}).values()
                   and r["arch"] == resolver.arch and r["note"].endswith("FAILS")]
        if lacking and resolver.mode == Offline.AUTO and index + 1 < len(origins):  # as get() falls back
            del rows[mark:]
            notes.append(f"{', '.join(lacking)} cannot be had")
            continue
        for dep in origin.get("inputs", {}).values():  # a local build carries its inputs' engine
            row["engine"] = row["engine"] or next(
                (r["engine"] for r in rows if r["artifact"] == dep and r["arch"] == resolver.arch), "")
        return
    rows.append({"artifact": name, "arch": resolver.arch, "origin": "-", "source": "", "pin": "", "engine": "",
                 "note": f"nothing can provide it{resolver.mode_phrase()}: FAILS"})


def _describe(resolver: Resolver, name: str, origin: dict, row: dict) -> None:
    kind = origin["origin"]
    if kind == "release":
        url, key, sha256 = resolver.release_pin(name, origin)
        row["source"], row["pin"] = resolver.mirrors.url(url), sha256 and f"sha256:{sha256}"
        if not sha256:
            raise resolver.unpinned(url, origin)
        if key in resolver.lock.entries:
            row["note"] = "locked"
        cached = download_path(url, sha256)
        if cached.exists() and sha256_file(cached) == sha256:
            row["note"] = (row["note"] + ", " if row["note"] else "") + "downloaded already"
            return
        resolver.probe_url(row["source"])
    elif kind == "registry":
        bare, digest = resolver.registry_pin(name, origin)
        source = resolver.mirrors.image(replace(bare, digest=digest))
        row["source"], row["pin"] = str(source), digest
        if not digest:
            raise Unavailable(f"no digest pinned for {bare}")
        if name in resolver.lock.entries:
            row["note"] = "locked"
        resolver.probe_address(source.registry)
    elif kind == "build":
        row["source"] = f"{origin['dockerfile']} from " + ", ".join(origin["inputs"].values())
        row["pin"] = "its inputs' pins"
    elif kind in ("kit", "debian"):
        row["source"] = f"kit recipe images/kit/{resolver.kit_artifact(origin)}"
        row["pin"] = origin.get("packages") or "kit manifest (sha256 per file)"
        row["note"] = "built here from Debian's packages, about a minute" if kind == "debian" \
            else "built here from package registries (the first build can take long)"
    else:
        row["source"], row["pin"], row["note"] = f"{resolver.provider}'s own default", "pinned by the provider", ""
        if origin.get("probe"):
            resolver.probe_address(origin["probe"])

