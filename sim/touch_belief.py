"""`SocketBelief`: where the socket can be, as a grid over the part-to-socket offset.

A search that feels its way in: each press on the rim says the part is not over the socket
there (it would have gone in), and the touch readout says, per axis, how likely the socket lies
beyond the press on that axis. Both multiply a prior; the next press goes where the most
probability lies within the part's entry window (the clearance on each side). Wrong readings
and jams only lower odds, never rule the answer out, so the search recovers from them.

Frame: the TCP's x (along the pads) and y (across them), metres, relative to the first target;
the grid is square, `cell` apart, and covers the prior.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


class SocketBelief:
    """Grid posterior over the socket's offset from the first target (TCP frame, metres).

    Prior: uniform over the points within `radius` of the segment from (-spread_x, 0) to
    (spread_x, 0): the vision estimate's error disk widened along x by the part's unknown place
    along the pads. `clearance`: how far off, per axis, the part still goes in.
    """

    def __init__(
        self,
        radius: float,
        clearance: float,
        spread_x: float = 0.0,
        cell: float = 0.0001,
        jam_odds: float = 0.05,
        floor: float = 0.05,
    ) -> None:
        if radius <= 0 or clearance <= 0 or cell <= 0 or spread_x < 0:
            raise ValueError(
                f"need radius, clearance and cell > 0 and spread_x >= 0, got {radius}, "
                f"{clearance}, {cell} and {spread_x}"
            )
        self.clearance, self.cell = clearance, cell
        self.jam_odds, self.floor = jam_odds, floor
        half = np.ceil((radius + spread_x) / cell) * cell
        axis = np.arange(-half, half + cell / 2, cell)
        self.x, self.y = np.meshgrid(axis, axis, indexing="ij")  # (n, n) each
        beyond = np.clip(np.abs(self.x) - spread_x, 0.0, None)
        prior = (beyond**2 + self.y**2 <= radius**2 + 1e-12).astype(np.float64)
        self.p: F64 = prior / prior.sum()  # (n, n)
        self._window = round(clearance / cell)

    def blocked(self, at: F64, beyond: F64 | None = None) -> None:
        """A press at offset `at` (2,) met the rim; `beyond` (2,): per axis, the readout's
        probability that the socket lies at a larger offset than `at` (None: no reading)."""
        dx, dy = self.x - at[0], self.y - at[1]
        c = self.clearance
        inside = (np.abs(dx) <= c) & (np.abs(dy) <= c)
        p = self.p * np.where(inside, self.jam_odds, 1.0)
        if beyond is not None:
            for d, prob in zip((dx, dy), beyond, strict=True):
                like = np.where(d > c, prob, np.where(d < -c, 1.0 - prob, 0.5))
                p = p * (self.floor + (1.0 - 2.0 * self.floor) * like)
        self.p = p / p.sum()

    def window_mass(self) -> F64:
        """(n, n): the probability within the entry window centred on each grid point."""
        k, n = self._window, self.p.shape[0]
        sums = np.pad(self.p, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)  # (n+1, n+1)
        lo = np.clip(np.arange(n) - k, 0, n)
        hi = np.clip(np.arange(n) + k + 1, 0, n)
        return np.asarray(sums[hi][:, hi] - sums[lo][:, hi] - sums[hi][:, lo] + sums[lo][:, lo])

    def best(self, near: F64 | None = None) -> F64:
        """(2,) the offset whose entry window holds the most probability; of equals (a flat
        belief has many), the one nearest to `near` (default: the first target)."""
        mass = self.window_mass()
        ties = mass >= mass.max() * (1.0 - 1e-6)
        near = np.zeros(2) if near is None else near
        distance = np.where(ties, np.hypot(self.x - near[0], self.y - near[1]), np.inf)
        i, j = np.unravel_index(int(np.argmin(distance)), self.p.shape)
        return np.array([self.x[i, j], self.y[i, j]])
