"""wasm-lab's invoke namespace. Each collection lives in lab/cli/<name>.py; tasks only parse
options and call into the lab package."""
from invoke import Collection

from lab.cli import collections
from lab.cli.program import stop_on_sigterm

stop_on_sigterm()

namespace = Collection()
for collection in collections():
    namespace.add_collection(collection)
