"""The lab as a list of small named actions run in order (the way kind creates a cluster).

Each action takes the context, does one thing, is safe to run twice and returns a line saying
what it changed. It declares what it needs from the context and what it gives (`needs`,
`gives`), whether its undo needs the cluster (`in_cluster`), and how it is undone (`undo`). The state file records finished actions so `lab.status` can tell, and what
was created so `lab.down` removes exactly that."""
from __future__ import annotations

import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

from lab.proc import console, terminate_long_running
from lab.spec import LabSpec
from lab.state import State

if TYPE_CHECKING:
    from lab.artifacts import Artifacts
    from lab.kube import Kube
    from lab.providers.base import Cluster, Provider
    from lab.registry import Endpoint


@dataclass
class Context:
    """What the actions share. Each field past `provider` is given by one action (its `gives`)
    and needed by later ones (their `needs`): artifacts, cluster, kube, images, registry, jobs,
    results."""
    spec: LabSpec
    state: State
    provider: Provider
    artifacts: Artifacts | None = None
    cluster: Cluster | None = None
    kube: Kube | None = None
    images: dict[str, str] = field(default_factory=dict)     # variant -> image reference
    registry: Endpoint | None = None                         # where artifacts are pushed and pulled
    results: dict = field(default_factory=dict)
    jobs: dict = field(default_factory=dict)                 # WASI job runner -> rows, like results
    jobs_judged_at: str = ""                                 # set when the rows are an earlier lab.up's (settled)
    timings: dict[str, float] = field(default_factory=dict)  # action -> seconds
    waits_beside: list[WaitBeside] = field(default_factory=list)  # left running by undos (lab.down)


class Action(Protocol):
    """One step of lab.up: what it needs from the Context and gives to it, what it does, its undo
    (`in_cluster`: whether the undo needs the cluster, skipped when the cluster goes whole)."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def in_cluster(self) -> bool: ...

    @property
    def records(self) -> tuple[str, ...]: ...   # state keys listing what its undo takes back

    @property
    def notes(self) -> tuple[str, ...]: ...     # other state keys it writes, read by later runs

    @property
    def needs(self) -> tuple[str, ...]: ...

    @property
    def gives(self) -> tuple[str, ...]: ...

    def execute(self, ctx: Context) -> str: ...

    def undo(self, ctx: Context) -> list[str]: ...


@contextmanager
def nodes_released(ctx: Context):
    """Around one action or undo: however it ends, nothing that reaches the nodes outlives it."""
    try:
        yield
    finally:
        if ctx.cluster is not None:
            ctx.cluster.close_nodes()


@dataclass
class WaitBeside:
    """A wait an undo leaves running while the undos after it go on: a namespace going (the
    namespace controller takes 5-6 s even for an empty one), a node settling after a containerd
    restart. The command that runs the undos ends with `finish_waits_beside`."""
    what: str
    ended: threading.Event = field(default_factory=threading.Event)
    lines: list[str] = field(default_factory=list)
    error: BaseException | None = None


def wait_beside(ctx: Context, what: str, wait: Callable[[], list[str]]) -> None:
    """Run `wait` (it returns lines for the user) in a thread of its own; a daemon thread, so an
    interrupt does not wait for it (what it waits for happens anyway)."""
    item = WaitBeside(what)

    def run() -> None:
        try:
            item.lines = wait()
        except BaseException as error:  # handed to finish_waits_beside, which raises it
            item.error = error
        finally:
            item.ended.set()

    ctx.waits_beside.append(item)
    threading.Thread(target=run, daemon=True, name=f"beside-{len(ctx.waits_beside)}").start()


def finish_waits_beside(ctx: Context) -> list[str]:
    """Wait for every wait left beside the undos; their lines, or the first one's error."""
    waits, ctx.waits_beside = ctx.waits_beside, []
    for item in waits:
        while not item.ended.wait(0.2):
            pass
    failed = next((item.error for item in waits if item.error is not None), None)
    if failed is not None:
        raise failed
    return [line for item in waits for line in item.lines]


INTERRUPT_GRACE_SECONDS = 30   # for a command side by side to end once asked to
_side_by_side: weakref.WeakSet[threading.Thread] = weakref.WeakSet()  # every thread a Together started


def left_running() -> list[str]:
    """The actions of Together steps still running on their threads, as an interrupt leaves them:
    while one runs, the interpreter must not be finalized (lab/cli/common.py ends the process at
    once instead)."""
    return [thread.name for thread in _side_by_side if thread.is_alive()]


class Together:
    """Actions run side by side, as one step of a sequence: none needs what another of them gives,
    and each still writes its records before the change they describe. Undone in reverse order."""

    def __init__(self, *actions):
        self.actions = actions
        self.name = " + ".join(a.name for a in actions)
        self.title = "side by side"
        self.in_cluster = any(a.in_cluster for a in actions)
        self.needs = tuple(dict.fromkeys(n for a in actions for n in a.needs))
        self.gives = tuple(dict.fromkeys(g for a in actions for g in a.gives))
        self.records = tuple(dict.fromkeys(r for a in actions for r in a.records))
        self.notes = tuple(dict.fromkeys(n for a in actions for n in a.notes))

    def execute(self, ctx: Context) -> str:
        failures: list[BaseException | None] = [None] * len(self.actions)
        ended = [threading.Event() for _ in self.actions]  # not Thread.join: an interrupted join can
        # leave a thread that still runs looking ended (Python 3.11)

        def one(index: int, action) -> None:
            try:
                _run(ctx, action)
            except BaseException as error:  # handed to the main thread, which raises it
                failures[index] = error
            finally:
                ended[index].set()

        # daemon threads: an interrupt stops lab.up now, as it would stop one action (every record
        # is written before its change, so the next run finishes what was cut short); the commands
        # they wait on (kind create) are ended first, as a single action ends its own
        threads = [threading.Thread(target=one, args=(index, action), daemon=True, name=action.name)
                   for index, action in enumerate(self.actions)]
        for thread in threads:
            _side_by_side.add(thread)
            thread.start()
        try:
            for done in ended:
                while not done.wait(0.2):
                    pass
        except BaseException:
            if terminate_long_running():
                for done in ended:
                    done.wait(INTERRUPT_GRACE_SECONDS)
            raise
        first = next((error for error in failures if error is not None), None)
        if first is not None:
            raise first
        return "done"

    def undo(self, ctx: Context) -> list[str]:
        return [line for action in reversed(self.actions) for line in action.undo(ctx)]


def flat(actions) -> list:
    """The actions of a sequence one by one, those of a Together in their order."""
    return [member for action in actions for member in (action.actions if isinstance(action, Together) else (action,))]


def check_sequence(actions, given_before: tuple[str, ...] = ()) -> None:
    """Every action's needs are given by an action before it, or before the sequence
    (`given_before`); an action run side by side with others needs nothing they give. A sequence
    that fails this is a bug."""
    given: set[str] = set(given_before)
    for action in actions:
        for member in action.actions if isinstance(action, Together) else (action,):
            missing = [need for need in member.needs if need not in given]
            if missing:
                raise RuntimeError(f"action {member.name} needs {', '.join(missing)}, which no earlier action gives")
        given.update(action.gives)


def run_actions(ctx: Context, actions, given_before: tuple[str, ...] = ()) -> None:
    check_sequence(actions, given_before)
    for action in actions:
        with nodes_released(ctx):  # after a Together: once all of its actions are done with the nodes
            if isinstance(action, Together):
                action.execute(ctx)
            else:
                _run(ctx, action)


def _run(ctx: Context, action) -> None:
    start = time.monotonic()
    console.print(f"[bold]▶ {action.name}[/bold] — {action.title}")
    with ctx.state.declared(action):
        outcome = action.execute(ctx)
    seconds = time.monotonic() - start
    console.print(f"  [green]✓[/green] {action.name}: {outcome} [dim]({seconds:.1f}s)[/dim]")
    ctx.timings[action.name] = round(seconds, 1)
    ctx.state.put("actions", action.name, {"outcome": outcome, "seconds": round(seconds, 1), "at": time.time()})
