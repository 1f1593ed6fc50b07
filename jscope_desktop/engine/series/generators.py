"""Built-in time series (paper Sec. 3.4, App. A.2), seeded, with each one's true transition rule.

Every generator returns ``n + 1`` values: the ``n`` shown to the model and the one that follows,
so a deterministic system's true next value is known for any cutoff. Stochastic systems give the
conditional law of the next value instead (Gaussian for Brownian motion, log-normal for geometric
Brownian motion).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import JScopeError

LOGISTIC_R = 3.9  # deep in the chaotic regime (paper App. A.2)
LORENZ_SIGMA, LORENZ_RHO, LORENZ_BETA = 10.0, 28.0, 8.0 / 3.0  # the classic chaotic parameters
LORENZ_DT = 0.01  # first-order explicit (Euler) step, as in the paper
LORENZ_STRIDE = 5  # one value every 0.05 time units: ~12 values per lobe oscillation
LORENZ_BURN_IN = 200  # Euler steps before the first value, to start on the attractor
LORENZ_DRIFT = 3.0  # added to x per time unit: ~15 over 100 values, comparable to one lobe
BROWNIAN_MU, BROWNIAN_SIGMA, BROWNIAN_DT = 0.0, 1.0, 1.0  # standard Brownian motion
GBM_MU, GBM_SIGMA, GBM_DT = 0.5, 0.5, 0.02  # ~7 % volatility per step
GBM_S0 = 1.0


@dataclass(frozen=True)
class Transition:
    """The law of the next value given the history.

    ``kind`` is ``"point"`` (``loc`` is the value), ``"gaussian"`` (mean ``loc``, standard
    deviation ``scale``) or ``"lognormal"`` (log of the value ~ N(``loc``, ``scale``²)).
    """

    kind: str
    loc: float
    scale: float = 0.0

    def cdf(self, x: float) -> float:
        """P(next value ≤ x) for the continuous kinds (a step function for ``point``)."""
        if self.kind == "point":
            return 1.0 if x >= self.loc else 0.0
        if self.kind == "gaussian":
            return _phi((x - self.loc) / self.scale)
        if self.kind == "lognormal":
            return _phi((math.log(x) - self.loc) / self.scale) if x > 0 else 0.0
        raise ValueError(self.kind)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


@dataclass(frozen=True)
class System:
    """A built-in generator: ``generate(n, seed)`` gives n + 1 values; ``transition(values, k)``
    is the law of ``values[k]`` given ``values[:k]`` (k ≥ 1)."""

    name: str
    label: str
    stochastic: bool
    generate: Callable[[int, int], np.ndarray]
    transition: Callable[[np.ndarray, int], Transition]


def _logistic(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).uniform(0.05, 0.95)
    for _ in range(20):  # leave the transient near the starting point
        x = LOGISTIC_R * x * (1 - x)
    out = np.empty(n + 1)
    for i in range(n + 1):
        out[i] = x
        x = LOGISTIC_R * x * (1 - x)
    return out


def _lorenz_x(n: int, seed: int, drift: float = 0.0) -> np.ndarray:
    """x(t) + drift·t sampled every LORENZ_STRIDE Euler steps; initial x varies with the seed,
    y and z are fixed (paper App. A.2)."""
    state = np.array([np.random.default_rng(seed).uniform(-10.0, 10.0), 1.0, 1.05])
    out = np.empty(n + 1)
    for step in range(LORENZ_BURN_IN + LORENZ_STRIDE * n + 1):
        k, rem = divmod(step - LORENZ_BURN_IN, LORENZ_STRIDE)
        if step >= LORENZ_BURN_IN and rem == 0:
            out[k] = state[0] + drift * k * LORENZ_STRIDE * LORENZ_DT
        x, y, z = state
        state = state + LORENZ_DT * np.array(
            [LORENZ_SIGMA * (y - x), x * (LORENZ_RHO - z) - y, x * y - LORENZ_BETA * z]
        )
    return out


def _brownian(n: int, seed: int) -> np.ndarray:
    steps = np.random.default_rng(seed).standard_normal(n)
    increments = BROWNIAN_MU * BROWNIAN_DT + BROWNIAN_SIGMA * math.sqrt(BROWNIAN_DT) * steps
    return np.concatenate([[0.0], np.cumsum(increments)])


def _gbm(n: int, seed: int) -> np.ndarray:
    steps = np.random.default_rng(seed).standard_normal(n)
    log_inc = (GBM_MU - GBM_SIGMA**2 / 2) * GBM_DT + GBM_SIGMA * math.sqrt(GBM_DT) * steps
    return GBM_S0 * np.exp(np.concatenate([[0.0], np.cumsum(log_inc)]))


def _point(values: np.ndarray, k: int) -> Transition:
    return Transition("point", float(values[k]))


def _brownian_law(values: np.ndarray, k: int) -> Transition:
    return Transition(
        "gaussian", float(values[k - 1]) + BROWNIAN_MU * BROWNIAN_DT,
        BROWNIAN_SIGMA * math.sqrt(BROWNIAN_DT),
    )


def _gbm_law(values: np.ndarray, k: int) -> Transition:
    return Transition(
        "lognormal", math.log(float(values[k - 1])) + (GBM_MU - GBM_SIGMA**2 / 2) * GBM_DT,
        GBM_SIGMA * math.sqrt(GBM_DT),
    )


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("logistic", "Logistic map (r = 3.9)", False, _logistic, _point),
        System("lorenz", "Lorenz system, x", False, _lorenz_x, _point),
        System("lorenz_drift", "Lorenz system with drift, x", False,
               lambda n, seed: _lorenz_x(n, seed, LORENZ_DRIFT), _point),
        System("brownian", "Brownian motion", True, _brownian, _brownian_law),
        System("gbm", "Geometric Brownian motion", True, _gbm, _gbm_law),
    )
}


def system_names() -> list[str]:
    """Names of the built-in generators, in menu order."""
    return list(SYSTEMS)


def get_system(name: str) -> System:
    """The built-in generator called ``name``, or a one-sentence error listing the choices."""
    if name not in SYSTEMS:
        raise JScopeError(f"Unknown system '{name}'; choose one of {', '.join(SYSTEMS)}.")
    return SYSTEMS[name]


def generate(name: str, n_values: int, seed: int = 0) -> np.ndarray:
    """``n_values + 1`` values (float64) of system ``name``: the series and the value after it."""
    if n_values < 3:
        raise JScopeError(f"A series needs at least 3 values, not {n_values}.")
    return get_system(name).generate(n_values, seed)
