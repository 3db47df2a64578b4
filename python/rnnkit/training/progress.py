"""The progress line of an epoch (Keras's progress bar) and the number format of the logs."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

__all__ = ["ProgressBar", "format_value"]


def format_value(value: float) -> str:
    """A log figure as the progress line and ``evaluate`` print it."""
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


class ProgressBar:
    """One epoch's progress line.

    ``verbose=1`` on a terminal redraws one line in place (``\\r``, at most every 0.1 s) with a
    bar, the running loss/metrics and the throughput; ``verbose=1`` elsewhere (a pipe, a log
    file, pytest's capture) and ``verbose=2`` print one line per epoch; ``verbose=0`` prints
    nothing. The stream is looked up when the bar is made (``sys.stdout`` by default).
    """

    width = 30

    def __init__(
        self,
        total: int,
        epoch: int,
        epochs: int,
        verbose: int,
        unit: str = "samples",
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.epoch, self.epochs = total, epoch, epochs
        self.verbose, self.unit = verbose, unit
        self.stream = stream if stream is not None else sys.stdout
        self.live = verbose == 1 and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._last_len = 0

    def _line(self, done: int, logs: Mapping[str, float], final: bool) -> str:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        filled = int(self.width * done / self.total) if self.total else self.width
        arrow = ">" if 0 < filled < self.width else ""
        bar = "=" * max(filled - len(arrow), 0) + arrow + "." * (self.width - filled)
        digits = len(str(self.total))
        parts = [f"Epoch {self.epoch + 1}/{self.epochs} [{bar}] {done:>{digits}}/{self.total}"]
        if final:
            parts.append(f"{elapsed:.1f}s")
        parts += [f"{key}: {format_value(value)}" for key, value in logs.items()]
        parts.append(f"{done / elapsed:,.0f} {self.unit}/s")
        return " - ".join(parts)

    def update(self, done: int, logs: Mapping[str, float]) -> None:
        """Redraw (terminal only, throttled)."""
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        line = self._line(done, logs, final=False)
        # Pad with spaces so a shorter line fully covers the previous one.
        self.stream.write("\r" + line + " " * max(self._last_len - len(line), 0))
        self.stream.flush()
        self._last_len = len(line)

    def finish(self, logs: Mapping[str, float]) -> None:
        """The epoch's final line (with validation figures)."""
        if self.verbose == 0:
            return
        line = self._line(self.total, logs, final=True)
        prefix = "\r" if self.live else ""
        self.stream.write(prefix + line + " " * max(self._last_len - len(line), 0) + "\n")
        self.stream.flush()
