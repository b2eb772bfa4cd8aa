"""py-spy's collapsed stacks summarized: the share of samples per function, as the leaf and
anywhere on the stack (the profile sections of `python -m benchmarks --profile` and of
`python -m benchmarks.live --profile`)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path


def finish_profiles(spies: list, *, seconds: int) -> dict:
    """Wait for each (name, dest, py-spy Popen) to end (killed if it overstays), then
    summarize what it wrote."""
    out = {}
    for name, dest, popen in spies:
        try:
            popen.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            popen.kill()
        out[name] = summarize_profile(dest) if dest.exists() else {}
    return out


def summarize_profile(path: Path, top: int = 20) -> dict:
    """From py-spy's collapsed stacks: share of samples per function as the leaf (self) and
    anywhere on the stack (total), for the project's own functions and overall."""
    self_counts: dict[str, int] = defaultdict(int)
    total_counts: dict[str, int] = defaultdict(int)
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack_text.split(";")
        if frames and frames[0].startswith("process"):
            frames = frames[1:]
        if not frames:
            continue
        idle = any(
            f.startswith(
                ("wait (threading", "select (selectors", "poll (selectors", "_wait_for_tstate")
            )
            or "sleep" in f.split(" ")[0]
            for f in frames[-1:]
        )
        if idle:
            continue
        samples += n
        self_counts[_frame_name(frames[-1])] += n
        for name in {_frame_name(f) for f in frames}:
            total_counts[name] += n
    ours = ("chatbots/", "billing/", "clientes/", "compliance/", "config/", "pedidos/", "agenda/")
    return {
        "busy_samples": samples,
        "self": _top(self_counts, samples, top),
        "total_ours": _top(
            {
                k: v
                for k, v in total_counts.items()
                if any(o in k for o in ours) and "Middleware.__call__" not in k
            },
            samples,
            top,
        ),
        "total_all": _top(total_counts, samples, top),
    }


def _frame_name(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (path/to/file.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def _top(counts: dict[str, int], samples: int, n: int) -> list[tuple[float, str]]:
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return [(round(100 * v / max(samples, 1), 1), k) for k, v in items]
