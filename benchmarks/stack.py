"""The production stack on loopback, for the benchmarks: start it, point at it, stop it.

* PostgreSQL and Redis: throwaway servers on free loopback ports in a temp dir, started the
  way run_tests.sh starts them (initdb as the `postgres` user when we are root), except that
  PostgreSQL keeps its production durability (fsync and synchronous commit ON): the
  webhook's promise is "stored before 200", and a benchmark without the commit flush would
  flatter every figure. `pg_stat_statements` is loaded to count statements per message.
* gunicorn with the repository's gunicorn.conf.py (the Procfile's `web` line), the product
  in production mode (DEBUG off, SECURE_SSL_REDIRECT off because there is no TLS proxy).
* The Procfile's `processor`, `sender` and `worker` processes with the production settings
  (benchmarks.harness.procfile_workers).
* The bench virtualenv (benchmarks/.work/venv): the project's .venv plus what only the
  benchmarks need (pywa and Flask for the peer, py-spy for profiles; benchmarks/deps.txt),
  so nothing is added to requirements*.txt. It sees the project's packages through a .pth
  file, so it never installs a second Django.

Every process is started by this module and stopped by its own pid (process group).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
WORK = BENCH_DIR / ".work"
MAIN_VENV = Path(os.environ.get("VENV") or ROOT / ".venv")
BENCH_VENV = WORK / "venv"
DEPS = BENCH_DIR / "deps.txt"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def rss_mb(pid: int) -> float | None:
    """Resident memory of one process (VmRSS from /proc), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of a process (its threads included), in seconds; with `reaped`, plus
    the CPU of its children that exited and were waited for (gunicorn's recycled workers)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    used = int(fields[11]) + int(fields[12])
    if reaped:
        used += int(fields[13]) + int(fields[14])
    return used / ticks


# gunicorn.conf.py as shipped, but no worker recycling (max_requests). The floor answers
# ~4,000 req/s, so it recycled a worker every few seconds; each recycle costs about a
# second of CPU, and the closed keep-alive connections reconnect to the surviving worker,
# which then carries the whole load on one core for the rest of the run. That halved the
# floor (and so the ingest ratio) at random. At 80 msg/s the shipped 20,000 recycles a
# worker every ~8 minutes.
BENCH_GUNICORN_ENV = {"GUNICORN_MAX_REQUESTS": "0"}


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    ticks = [int(x) for x in fields[:8]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants (live ones, and exited ones that were
    waited for)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += cpu_seconds(p, reaped=True)
        todo.extend(children(p))
    return total


# --- The bench virtualenv -------------------------------------------------------------------


def bench_python() -> Path:
    """The bench venv's python, created on first use (project venv + benchmarks/deps.txt)."""
    py = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".deps.sha"
    want = DEPS.read_text()
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    log(f"preparing the bench virtualenv in {BENCH_VENV} ({', '.join(_dep_names())})")
    main_py = MAIN_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    purelib = lambda p: subprocess.check_output(  # noqa: E731
        [str(p), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    Path(purelib(py), "_project_venv.pth").write_text(purelib(main_py) + "\n")
    subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(DEPS)],
        check=True,
    )
    stamp.write_text(want)
    return py


def _dep_names() -> list[str]:
    return [
        line.split("#")[0].strip()
        for line in DEPS.read_text().splitlines()
        if line.split("#")[0].strip()
    ]


def py_spy() -> Path | None:
    path = BENCH_VENV / "bin" / "py-spy"
    return path if path.exists() else None


# --- Processes ------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """Throwaway PostgreSQL + Redis, and the product's processes pointed at them."""

    durable: bool = True
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chatbot-bench.")))
    pg_port: int = 0
    redis_port: int = 0
    pg_bin: Path | None = None
    procs: list[Proc] = field(default_factory=list)
    secret_key: str = ""
    fernet_key: str = ""

    # --- servers -----------------------------------------------------------------------
    def start_servers(self) -> None:
        self.tmp.chmod(0o755)
        self.pg_bin = _find_pg_bin()
        if shutil.which("redis-server") is None:
            _apt_install("redis-server")
        self.pg_port, self.redis_port = free_port(), free_port()
        pgdata = self.tmp / "pg"
        pgdata.mkdir()
        if os.getuid() == 0:
            if subprocess.run(["id", "postgres"], capture_output=True).returncode:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.tmp, "postgres")
            shutil.chown(pgdata, "postgres")
        log(f"PostgreSQL on 127.0.0.1:{self.pg_port}, Redis on 127.0.0.1:{self.redis_port}")
        self._as_pg(
            [str(self.pg_bin / "initdb"), "-D", str(pgdata), "-U", "postgres", "-A", "trust"]
            + ["-E", "UTF8", "--locale=C.UTF-8"],
            log_name="initdb.log",
        )
        durability = (
            ""
            if self.durable
            else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        )
        options = (
            f"-p {self.pg_port} -k {self.tmp} -c listen_addresses=127.0.0.1 {durability}"
            "-c max_connections=200 -c shared_buffers=256MB "
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top "
            "-c pg_stat_statements.max=2000"
        )
        self._as_pg(
            [str(self.pg_bin / "pg_ctl"), "-D", str(pgdata), "-l", str(self.tmp / "pg.log")]
            + ["-w", "-t", "60", "start", "-o", options],
            log_name="pg_ctl.log",
        )
        subprocess.run(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--daemonize", "yes"]
            + ["--pidfile", str(self.tmp / "redis.pid"), "--logfile", str(self.tmp / "redis.log")]
            + ["--dir", str(self.tmp)],
            check=True,
        )
        for _ in range(100):
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ):
                break
            time.sleep(0.05)
        self.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        from cryptography.fernet import Fernet

        self.secret_key = "bench-" + os.urandom(24).hex()
        self.fernet_key = Fernet.generate_key().decode()

    def _as_pg(self, cmd: list[str], *, log_name: str) -> None:
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = self.tmp / log_name
        with out.open("w") as fh:
            result = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
        if result.returncode:
            pglog = self.tmp / "pg.log"
            detail = out.read_text() + (pglog.read_text() if pglog.exists() else "")
            raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{detail}")

    def server_pids(self) -> dict[str, int]:
        pids = {}
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids["postgres"] = int((self.tmp / "pg" / "postmaster.pid").read_text().split()[0])
        with contextlib.suppress(OSError, ValueError):
            pids["redis"] = int((self.tmp / "redis.pid").read_text().strip())
        return pids

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser; returns unaligned, tuples-only output."""
        return subprocess.run(
            [str(self.pg_bin / "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port)]
            + ["-U", "postgres", "-d", "postgres", "-X", "-A", "-t", "-q", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    # --- environment -------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """The product's production environment, pointed at the throwaway servers."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "CELERY_", "WEB_", "GUNICORN_"))
        }
        data_dir = self.tmp / "data"
        (data_dir / "prometheus").mkdir(parents=True, exist_ok=True)
        env.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{self.pg_port}/postgres",
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            SECRET_KEY=self.secret_key,
            FIELD_ENCRYPTION_KEYS=self.fernet_key,
            SECURE_SSL_REDIRECT="False",
            DEBUG="False",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_ENV_FILE=str(self.tmp / "none.env"),  # never read a developer's .env
            DJANGO_SETTINGS_MODULE="config.settings",
            DATA_DIR=str(data_dir),
            STATIC_ROOT=str(self.tmp / "static"),
            PROMETHEUS_MULTIPROC_DIR=str(data_dir / "prometheus"),
            BIND_HOST="127.0.0.1",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=str(ROOT),
            # The reply path's own speed: the burst window is a deliberate wait for the
            # customer to stop typing (chatbots/bursts.py) that would hide it.
            CHATBOT_DEBOUNCE_MS="0",
        )
        env.update(extra)
        return env

    def activate_here(self) -> None:
        """Point this process's Django at the stack (for seeding and checks)."""
        os.environ.update(self.env())
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    # --- product processes ---------------------------------------------------------------
    def spawn(self, name: str, cmd: list[str], env: dict[str, str], *, cwd: Path = ROOT) -> Proc:
        log_path = self.tmp / f"{name}.log"
        fh = log_path.open("ab")
        popen = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        fh.close()
        proc = Proc(name=name, popen=popen, log_path=log_path)
        self.procs.append(proc)
        return proc

    def start_gunicorn(
        self,
        name: str,
        wsgi_app: str,
        *,
        python: Path | None = None,
        extra_env: dict[str, str] | None = None,
        health_path: str = "/healthz/live",
    ) -> tuple[Proc, int]:
        """gunicorn -c gunicorn.conf.py <wsgi_app>, on a free loopback port; waits until it
        answers `health_path` (any HTTP status counts as up)."""
        port = free_port()
        python = python or MAIN_VENV / "bin" / "python"
        env = self.env(PORT=str(port), **{**BENCH_GUNICORN_ENV, **(extra_env or {})})
        proc = self.spawn(
            name,
            [str(python), "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), wsgi_app],
            env,
        )
        wait_http(f"http://127.0.0.1:{port}{health_path}", proc)
        wait_settled(proc, workers=int(env.get("WEB_CONCURRENCY") or 2))
        return proc, port

    def start_celery(
        self,
        name: str,
        *,
        queues: str = "replies,default",
        concurrency: int = 4,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
    ) -> Proc:
        """The Procfile's `worker` line (pool and concurrency as given)."""
        env = self.env(**(extra_env or {}))
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # like start_services.sh: web only
        cmd = [
            str(MAIN_VENV / "bin" / "celery"),
            "-A",
            "config",
            "worker",
            "--queues",
            queues,
            "--hostname",
            f"{name}@%h",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            env.get("LOG_LEVEL", "INFO"),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        proc = self.spawn(name, cmd, env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.tail()}")
            if "ready." in proc.log_path.read_text(errors="replace"):
                return proc
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after 60 s:\n{proc.tail()}")

    def stop_proc(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        pgdata = self.tmp / "pg"
        if self.pg_bin and (pgdata / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._as_pg(
                    [str(self.pg_bin / "pg_ctl"), "-D", str(pgdata), "-m", "immediate", "stop"],
                    log_name="pg_stop.log",
                )
        pidfile = self.tmp / "redis.pid"
        if pidfile.exists():
            with contextlib.suppress(Exception):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def keep_logs(self, dest: Path) -> None:
        """Copy the processes' logs somewhere that survives stop() (for debugging)."""
        dest.mkdir(parents=True, exist_ok=True)
        for path in self.tmp.glob("*.log"):
            with contextlib.suppress(OSError):
                shutil.copy(path, dest / path.name)


def wait_settled(proc: Proc, *, workers: int, timeout: float = 30.0) -> None:
    """Until gunicorn has all its workers and none of them is still booting (CPU time flat
    for half a second). The first answer comes from the first worker up; a load that starts
    then opens every keep-alive connection on that one worker, which then carries the run on
    one core while the other idles (a floor of ~1,600 req/s instead of ~4,000)."""
    deadline = time.monotonic() + timeout
    last: dict[int, float] = {}
    while time.monotonic() < deadline:
        kids = children(proc.pid)
        now = {pid: cpu_seconds(pid) for pid in kids}
        if len(kids) >= workers and now == last:
            return
        last = now
        time.sleep(0.5)


def wait_http(url: str, proc: Proc | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited while starting:\n{proc.tail()}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


def http_json(url: str, data: dict | None = None, timeout: float = 10.0) -> dict:
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def _find_pg_bin() -> Path:
    for _ in range(2):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if found:
            return found[-1].parent
        _apt_install("postgresql")
    raise RuntimeError("PostgreSQL not found and could not be installed")


def _apt_install(package: str) -> None:
    if os.getuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(f"{package} is missing; install it and retry")
    log(f"installing the Debian package {package}")
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        check=True,
        capture_output=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
