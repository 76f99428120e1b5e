"""wasm-lab's invoke namespace. Each collection lives in lab/cli/<name>.py; tasks only parse
options and call into the lab package."""
import signal
import sys

from invoke import Collection

from lab.cli import collections

# A terminated run unwinds like Ctrl-C, so build containers and scaled deployments are put back.
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

namespace = Collection()
for collection in collections():
    namespace.add_collection(collection)
