"""Mirrors: where a company proxy or a local mirror serves what the lab would fetch upstream.

Two kinds, one setting (`mirrors:` in lab.yaml, `--mirror FROM=TO` on the command line):
  downloads   a URL prefix and its replacement:  https://github.com = https://artifactory.corp/github
  registries  a registry host and its mirror:    docker.io = harbor.corp/dockerhub-proxy
A key with a scheme is a download mirror, one without is a registry mirror."""
from __future__ import annotations

import re
from dataclasses import dataclass

from lab.errors import InputError

URL_PREFIX = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~%/-]*)?")
REGISTRY = re.compile(r"[a-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class ImageRef:
    registry: str      # docker.io, registry.k8s.io, 127.0.0.1:5000
    path: str          # library/rust, kindest/node
    tag: str = ""
    digest: str = ""   # sha256:…

    @classmethod
    def parse(cls, ref: str) -> "ImageRef":
        name, _, digest = ref.partition("@")
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, name = first, rest
        else:
            registry = DOCKER_HUB
        path, _, tag = name.partition(":")
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        return cls(registry, path, tag, digest)

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


@dataclass(frozen=True)
class Mirrors:
    downloads: tuple[tuple[str, str], ...] = ()
    registries: tuple[tuple[str, str], ...] = ()

    def url(self, url: str) -> str:
        for prefix, replacement in self.downloads:
            if url == prefix or url.startswith(prefix.rstrip("/") + "/"):
                return replacement.rstrip("/") + url[len(prefix.rstrip("/")):]
        return url

    def image(self, ref: ImageRef) -> ImageRef:
        for host, mirror in self.registries:
            if ref.registry == host:
                registry, _, prefix = mirror.partition("/")
                return ImageRef(registry, f"{prefix}/{ref.path}" if prefix else ref.path, ref.tag, ref.digest)
        return ref

    def as_data(self) -> dict:
        return {**dict(self.downloads), **dict(self.registries)}


def parse(value) -> Mirrors:
    """A mapping {from: to} (lab.yaml) or a list of "from=to" strings (options) into Mirrors."""
    if value in (None, "", [], {}):
        return Mirrors()
    if isinstance(value, (list, tuple)):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise InputError(f"mirror: {item!r} is not FROM=TO, like https://github.com=http://mirror.corp/github "
                                 "or docker.io=harbor.corp/proxy")
            source, _, target = item.partition("=")
            pairs.append((source.strip(), target.strip()))
    elif isinstance(value, dict):
        pairs = [(str(k).strip(), "" if v is None else str(v).strip()) for k, v in value.items()]
    else:
        raise InputError(f"mirrors: {value!r} is not a mapping of upstream to mirror")
    downloads, registries = [], []
    for source, target in pairs:
        if "://" in source:
            if not (URL_PREFIX.fullmatch(source) and URL_PREFIX.fullmatch(target)):
                raise InputError(f"mirrors: {source}={target} must map an http(s) URL prefix to another, "
                                 "like https://github.com=http://mirror.corp/github")
            downloads.append((source.rstrip("/"), target.rstrip("/")))
        else:
            if not (REGISTRY.fullmatch(source) and REGISTRY.fullmatch(target)):
                raise InputError(f"mirrors: {source}={target} must map a registry host to a mirror host[:port][/path], "
                                 "like docker.io=harbor.corp/dockerhub-proxy")
            registries.append((source, target.rstrip("/")))
    # longest prefix first, so a specific mirror wins over a general one
    downloads.sort(key=lambda pair: -len(pair[0]))
    return Mirrors(tuple(downloads), tuple(registries))
