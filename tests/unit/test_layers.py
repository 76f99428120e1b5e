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
