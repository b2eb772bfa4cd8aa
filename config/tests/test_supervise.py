"""start_services.sh's supervision (deploy/supervise.sh): a process that dies comes back,
and SIGTERM to the launcher leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

LAUNCHER = """
set -euo pipefail
source deploy/supervise.sh
supervise fake sleep 300
# Ignores SIGTERM, as a stuck process would: only the timeout's SIGKILL ends it and its child.
supervise stubborn sh -c 'trap "" TERM; sleep 300'
supervise_forever
"""


def _session(sid: int) -> list[str]:
    """The live processes of a session (zombies are already dead)."""
    out = subprocess.run(
        ["ps", "-o", "pid=,stat=,args=", "-s", str(sid)], capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line.split()[1][0] != "Z"]


def _wait_for(read, pattern: str, timeout: float = 8.0) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := re.search(pattern, read()):
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} never appeared in:\n{read()}")


def test_a_killed_process_comes_back_and_sigterm_leaves_nothing_running(tmp_path):
    log = tmp_path / "launcher.log"
    env = {**os.environ, "SUPERVISE_STOP_TIMEOUT": "1"}
    with log.open("w") as out:
        launcher = subprocess.Popen(
            ["bash", "-c", LAUNCHER],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        first = int(_wait_for(log.read_text, r"fake iniciado \(pid (\d+)\)").group(1))
        _wait_for(log.read_text, r"stubborn iniciado")

        os.kill(first, signal.SIGKILL)

        _wait_for(log.read_text, r"o processo fake parou \(código 137\); reiniciando em 1 s")
        again = _wait_for(log.read_text, rf"fake iniciado \(pid (?!{first}\))(\d+)\)")
        assert any(line.split()[0] == again.group(1) for line in _session(launcher.pid))

        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=10) == 143
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    text = log.read_text()
    assert "tempo esgotado: encerrando à força" in text  # the stubborn one needed SIGKILL
    assert "tudo parado" in text
    deadline = time.monotonic() + 3
    while _session(launcher.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _session(launcher.pid) == []
