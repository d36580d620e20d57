"""Progress bars: tqdm when it is installed, else a small text bar (the GPU machine may lack tqdm)."""

import sys
import time

try:  # optional
    from tqdm import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the machine
    _tqdm = None


class Progress:
    """`update(n, **stats)`; `close()`. Silent when disabled (ranks other than 0, tests)."""

    def __init__(self, total: int, description: str, enabled: bool = True, stream=None):
        self.total = max(int(total), 0)
        self.description = description
        self.enabled = enabled
        self.count = 0
        self.stats: dict[str, object] = {}
        self.stream = stream or sys.stderr
        self._bar = None
        self._started = time.monotonic()
        self._last_print = 0.0
        self._last_fraction = -1.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        if enabled and _tqdm is not None and stream is None:
            self._bar = _tqdm(total=self.total, desc=description, dynamic_ncols=True, leave=False, file=self.stream)

    def update(self, n: int = 1, **stats: object) -> None:
        if not self.enabled:
            return
        self.count += n
        self.stats.update(stats)
        if self._bar is not None:
            self._bar.update(n)
            if stats:
                self._bar.set_postfix({k: _fmt(v) for k, v in self.stats.items()}, refresh=False)
            return
        now = time.monotonic()
        fraction = self.count / self.total if self.total else 1.0
        # On a terminal redraw at most 4 times a second; in a log file print a line every 10 % or 60 s.
        if self._tty:
            if now - self._last_print < 0.25 and self.count < self.total:
                return
        elif fraction - self._last_fraction < 0.1 and now - self._last_print < 60 and self.count < self.total:
            return
        self._last_print, self._last_fraction = now, fraction
        self.stream.write(("\r" if self._tty else "") + self.line(now) + ("" if self._tty else "\n"))
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self._started
        width = 24
        filled = int(width * self.count / self.total) if self.total else width
        rate = self.count / elapsed if elapsed > 0 else 0.0
        stats = " ".join(f"{k} {_fmt(v)}" for k, v in self.stats.items())
        return (f"{self.description} [{'#' * filled}{'.' * (width - filled)}] {self.count}/{self.total} "
                f"{elapsed:.0f}s {rate:.1f}/s {stats}").rstrip()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        elif self._tty:
            self.stream.write("\n")
            self.stream.flush()


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
