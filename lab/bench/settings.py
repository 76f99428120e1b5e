"""What one bench run is asked to measure, checked once into an immutable `BenchSettings` (as
lab/spec.py does for the lab): bad input is an InputError naming the option, exit status 2,
before the bench reaches the cluster."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.errors import InputError

DEFAULT_CONCURRENCIES = (1, 4, 16)
DEFAULT_DENSITY = (10,)
QUIET_WAIT = 120.0


@dataclass(frozen=True)
class BenchSettings:
    variants: tuple[str, ...] = ()                    # empty: every deployed variant
    repeat: int = 5
    levels: tuple[int, ...] = DEFAULT_CONCURRENCIES
    requests: int = 2000
    duration: float = 10.0
    image_removed: bool = True
    path: str = "/get"
    density: tuple[int, ...] = DEFAULT_DENSITY
    density_variants: tuple[str, ...] | None = None   # None: every measured variant
    output: Path | None = None                        # None: the lab's results_dir
    loadgen_image: str | None = None                  # None: the catalog's bench-loadgen image
    quiet_wait: float = QUIET_WAIT

    @classmethod
    def checked(cls, variants=None, repeat=5, concurrencies=DEFAULT_CONCURRENCIES, requests=2000, duration=10.0,
                image_removed: bool = True, output: str | Path | None = None, path: str = "/get",
                density_levels=DEFAULT_DENSITY, density_variants=None, loadgen_image: str | None = None,
                quiet_wait=QUIET_WAIT) -> BenchSettings:
        """The settings from the options as given (numbers may arrive as text)."""
        levels = check_settings(repeat, concurrencies, requests, duration)
        quiet = _number("quiet-wait", quiet_wait, float, "a number of seconds")
        return cls(variants=tuple(variants or ()), repeat=int(repeat), levels=levels, requests=int(requests),
                   duration=float(duration), image_removed=image_removed, path=path,
                   density=check_density(density_levels),
                   density_variants=tuple(density_variants) if density_variants else None,
                   output=Path(output) if output else None, loadgen_image=loadgen_image, quiet_wait=float(quiet))


def check_density(values) -> tuple[int, ...]:
    try:
        levels = tuple(int(n) for n in values)
    except (TypeError, ValueError):
        raise InputError(f"density: {list(values)} are not whole numbers from 1 to 100")
    for n in levels:
        if not 1 <= n <= 100:
            raise InputError(f"density: {n} is outside 1..100")
    return levels


def _number(field: str, value, kind, what: str):
    """An option's value as `kind` (int or float); anything else is one line naming the option."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InputError(f"{field}: {value!r} is not {what}")


def check_settings(repeat, concurrencies, requests, duration) -> tuple[int, ...]:
    repeat = _number("repeat", repeat, int, "a whole number from 1 to 50")
    requests = _number("requests", requests, int, "a whole number from 1 to 1000000")
    duration = _number("duration", duration, float, "a number of seconds from 0 to 600")
    if not 1 <= repeat <= 50:
        raise InputError(f"repeat: {repeat} is outside 1..50")
    try:
        levels = tuple(int(c) for c in concurrencies) or DEFAULT_CONCURRENCIES
    except (TypeError, ValueError):
        raise InputError(f"concurrency: {list(concurrencies)} are not whole numbers from 1 to 256")
    for level in levels:
        if not 1 <= level <= 256:
            raise InputError(f"concurrency: {level} is outside 1..256")
    if not 1 <= requests <= 1_000_000:
        raise InputError(f"requests: {requests} is outside 1..1000000")
    if not 0 < duration <= 600:
        raise InputError(f"duration: {duration} is outside 0..600 seconds")
    return levels
