"""Progress of long Beam steps: items done and their rate, at most every 30 s per worker.

Reading 1.5 TB of records or scoring millions of videos takes hours, and a
Beam step says nothing until it ends. A DoFn holds a `Progress` and calls
`add()` per item: it counts a Beam counter (`yt8m/<what>`, shown by Dataflow's
and Flink's UIs and in the result's metrics) and logs a line with the rate,
which the local runner's console shows and a remote runner's worker log keeps.
`YT8M_PROGRESS_SECONDS` sets the interval (tests use a fraction of a second).
"""

from __future__ import annotations

import logging
import os
import time

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 30.0


def interval_seconds() -> float:
    return float(os.environ.get('YT8M_PROGRESS_SECONDS', DEFAULT_INTERVAL_SECONDS))


class Progress:
    """Counts items of one step on one worker; logs every `interval` seconds."""

    def __init__(self, step: str, unit: str = 'records', interval: float = None):
        self.step, self.unit = step, unit
        self.interval = interval_seconds() if interval is None else interval
        self.count = 0
        self.started = self.last = time.monotonic()
        self._counter = None

    def add(self, n: int = 1) -> None:
        if self._counter is None:
            from apache_beam.metrics import Metrics
            self._counter = Metrics.counter('yt8m', f'{self.step}_{self.unit}')
        self._counter.inc(n)
        self.count += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            rate = self.count / max(now - self.started, 1e-9)
            logger.info('%s: %s %s so far on this worker (%.0f/s)', self.step,
                        f'{self.count:,}', self.unit, rate)
