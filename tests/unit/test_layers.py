"""The layers of docs/architecture.md, enforced on the imports (static: the source is parsed,
nothing is run).

- Providers make and reach nodes; they never install runtimes or touch workloads.
- Commands, the bench, doctor and lifecycle reach a provider through `lab.providers.get`, never
  one provider module by name.
- Pure planning modules (containerd config, spec, results, the artifact plan, lab.pins' rows) import
  no cluster or Docker client; the artifact plan fetches nothing (no origin's fetcher), nor do
  lab.pins' rows (upstream's answers reach them through lab.upstream).
- The network sides of a kit bundle (kit.serve, an import's download) import no Docker client and
  neither load, build nor record kit artifacts."""
import ast
import re
from pathlib import Path

import lab

LAB = Path(lab.__file__).parent

RULES = {
    # importer (module or package prefix) -> module prefixes it must not import
    "lab.providers": ("lab.node_runtimes", "lab.actions", "lab.containerd", "lab.workloads", "lab.bench", "lab.cli",
                      "lab.lifecycle"),
    "lab.cli": ("lab.providers.kind", "lab.providers.minikube", "lab.providers.existing", "lab.nodes",
                "lab.providers.installer_pod"),
    "lab.bench": ("lab.providers.kind", "lab.providers.minikube", "lab.providers.existing", "lab.nodes",
                  "lab.actions"),
    "lab.doctor": ("lab.providers.kind", "lab.providers.minikube", "lab.providers.existing", "lab.nodes"),
    "lab.lifecycle": ("lab.providers.kind", "lab.providers.minikube", "lab.providers.existing"),
    "lab.actions": ("lab.providers.kind", "lab.providers.minikube", "lab.providers.existing", "lab.cli"),
    "lab.containerd": ("kubernetes", "docker", "lab.nodes", "lab.kube"),
    "lab.spec": ("kubernetes", "docker", "lab.nodes", "lab.kube", "lab.providers"),
    "lab.bench.results": ("kubernetes", "docker", "lab.kube"),
    "lab.artifacts.plan": ("kubernetes", "docker", "lab.nodes", "lab.kube", "lab.artifacts.origins"),
    "lab.pins": ("kubernetes", "docker", "lab.nodes", "lab.kube", "lab.fetch", "lab.upstream"),
    "lab.kit.bundle.serve": ("docker", "lab.kit.builders", "lab.kit.store"),
    "lab.kit.bundle.download": ("docker", "lab.kit.builders", "lab.kit.store"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LAB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_module_keeps_to_its_layer():
    broken = []
    for path in sorted(LAB.rglob("*.py")):
        module = module_name(path)
        for importer, forbidden in RULES.items():
            if not under(module, importer):
                continue
            for name in sorted(imports(path)):
                if any(under(name, f) for f in forbidden):
                    broken.append(f"{module} imports {name}")
    assert broken == []


def test_the_rules_name_modules_that_exist():
    modules = {module_name(p) for p in LAB.rglob("*.py")}
    for importer, forbidden in RULES.items():
        assert any(under(m, importer) for m in modules), importer
        for name in forbidden:
            assert name in ("kubernetes", "docker") or any(under(m, name) for m in modules), name


MAX_LINES = 400
EXPLAINED_OVER = 300
ARCHITECTURE = LAB.parent / "docs" / "architecture.md"


def lines_of(path: Path) -> int:
    return len(path.read_text().splitlines())


def explained_long_modules() -> set[str]:
    """The modules docs/architecture.md's "Module size" section names (`lab/...py` — why)."""
    text = ARCHITECTURE.read_text()
    section = text.split("\n## Module size\n", 1)[1].split("\n## ", 1)[0]
    return {line.split("`")[1] for line in section.splitlines() if line.startswith("- `lab/")}


def test_no_module_is_too_long_to_read_whole():
    too_long = [f"{p.relative_to(LAB.parent)}: {lines_of(p)} lines" for p in sorted(LAB.rglob("*.py"))
                if lines_of(p) > MAX_LINES]
    assert too_long == [], f"split by job: no module of lab/ over {MAX_LINES} lines"


def test_a_module_over_300_lines_is_one_the_docs_say_why():
    long = {str(p.relative_to(LAB.parent)) for p in LAB.rglob("*.py") if lines_of(p) > EXPLAINED_OVER}
    explained = explained_long_modules()
    assert long - explained == set(), "say why in docs/architecture.md, Module size (or split it)"
    assert explained - long == set(), "no longer over 300 lines: take it out of Module size"


# The httpbin workload's contract (shared/specs/httpbin.md) says `flavor`: its JSON field, its header
# and its environment variable carry the variant's name. lab/ may spell those, and nothing else so.
WORKLOAD_CONTRACT = re.compile(r"""X-Workload-Flavor|x-workload-flavor|["'`]flavor["'`]|["'`]FLAVOR["'`]""")
RETIRED_WORDS = re.compile(r"flavou?r", re.IGNORECASE)


def test_lab_speaks_the_words_of_the_map():
    """docs/architecture.md, Words: a variant has a packaging (native, embed, runtime, artifact),
    not a flavor; only the workload's contract keeps that word."""
    found = []
    for path in sorted(LAB.rglob("*")):
        if path.is_dir() or path.suffix in (".pyc",):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if RETIRED_WORDS.search(WORKLOAD_CONTRACT.sub("", line)):
                found.append(f"{path.relative_to(LAB.parent)}:{number}: {line.strip()}")
    assert found == [], "say packaging or variant (docs/architecture.md, Words)"


def test_every_word_of_the_map_is_one_the_catalog_and_spec_use():
    """The values the glossary lists are the ones the code allows, so the two cannot drift apart."""
    from lab import catalog, spec

    text = ARCHITECTURE.read_text().split("\n## Words\n", 1)[1].split("\n## ", 1)[0]
    listed = {bullet.split("**", 1)[0]: re.findall(r"`([a-z-]+)`", bullet) for bullet in text.split("\n- **")[1:]}
    assert set(catalog.PACKAGINGS) <= set(listed["packaging"])
    assert set(catalog.EXECUTIONS) <= set(listed["execution"])
    assert set(catalog.load().runtimes) <= set(listed["runtime"])
    assert {v.engine for v in catalog.load().variants.values() if v.engine} <= set(listed["engine"])
    assert set(spec.OFFLINE_MODES) <= set(listed["offline"])
