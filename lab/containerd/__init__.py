"""Plan the edits to a node's containerd config that register a WebAssembly runtime.

Pure functions over config text: nothing here talks to a node. The caller reads the
files (the main config and, where it imports a conf.d glob, the files in that
directory), asks for a plan, writes what the plan says, restarts containerd only when
the plan is not empty, and then confirms with ``containerd config dump`` and
:func:`dump_has_runtime`, because containerd silently ignores a key under the wrong
plugin name.

How the lab edits, by config version:

* version 2 (containerd 1.x) and version 3 (containerd 2.x): one table is appended to the
  main file, between two marker comments (``# managed by wasm-lab: runtime "<handler>"``).
  Everything else in the file stays byte-for-byte as it was; uninstall cuts the block out
  again and gives back the original text exactly. A version 2 file is always edited in
  place, even when it imports a conf.d glob: containerd 1.x replaces a plugin's whole
  section with the one found in an imported file (containerd issues #5837, #7982), so a
  drop-in holding only our runtime would erase the node's runc settings.
* version 4 (containerd 2.3+), or version 3 whose ``imports`` already names a ``*.toml``
  glob: the runtime goes into its own drop-in ``<conf.d>/wasm-lab-<handler>.toml``
  (containerd 2.x merges drop-ins key by key). The drop-in declares the root file's
  version, since containerd refuses a drop-in newer than the root and migrates an older
  one. When the main file has no such glob, the lab adds
  ``imports = ["<dir of main>/conf.d/*.toml"]`` with a marker comment above it that
  records the original line and the runtimes that need it; uninstalling the last of
  them puts the original line back.

Runtimes the lab did not write are never changed: an identical one counts as already
installed, a different one is a :class:`ConfigError` naming the handler and the file.

The modules, by job: ``config`` (parsing, versions, where the runtimes live, TOML rendering),
``entry`` (the runtime the lab registers, its table, comparisons), ``blocks`` (the marked block
in a main file), ``imports`` (the conf.d glob and its marker), ``plans`` (install, uninstall),
``dump`` (reading ``containerd config dump``).
"""
from lab.containerd.config import ConfigError, config_version, runtimes_path, systemd_cgroup
from lab.containerd.dump import dump_has_runtime, registry_hosts_dirs
from lab.containerd.entry import RuntimeEntry
from lab.containerd.imports import import_dirs
from lab.containerd.plans import plan_install, plan_uninstall

__all__ = [
    "ConfigError",
    "RuntimeEntry",
    "config_version",
    "dump_has_runtime",
    "import_dirs",
    "plan_install",
    "plan_uninstall",
    "registry_hosts_dirs",
    "runtimes_path",
    "systemd_cgroup",
]
