"""The embedded mode's files and address: owner-only files, loopback unless told otherwise.

The settings (config/settings.py) call these while they load, before Django is set up, so
nothing here imports Django or logs through it.

Files: `.env` holds SECRET_KEY and FIELD_ENCRYPTION_KEYS, the SQLite database holds every
tenant's data, and the broker and cache folders hold task arguments and cached values. They
are created readable by their owner only (0600 files, 0700 folders) whatever the process's
umask, and ones left by an older version are narrowed at every start. Only regular files
and folders owned by this user are changed (never /dev/null, never a folder shared with
others that DATA_DIR happens to name). SQLite creates the -wal and -shm files with the
database file's own permissions (https://www.sqlite.org/tempfiles.html), so a 0600 database
keeps them 0600.

Address: the embedded mode binds 127.0.0.1, so a try-out on a laptop is not served to its
whole network; production (Render, containers, a Procfile host) binds 0.0.0.0, where the
platform's router is what is exposed. gunicorn.conf.py applies the same default.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def tighten(path: Path, mode: int) -> None:
    """Drop every permission bit of `path` beyond `mode`, if it is ours to change."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) or st.st_uid != os.geteuid():
        return
    current = stat.S_IMODE(st.st_mode)
    if current & ~mode:
        try:
            path.chmod(current & mode)
        except OSError as exc:  # a read-only mount: say so, the boot goes on
            print(f"warning: could not make {path} private: {exc}", file=sys.stderr)


def private_dir(path: Path) -> None:
    """Create `path` (and its parents) as needed; `path` itself ends up 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tighten(path, PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create `path` empty with 0600 if it does not exist; narrow it to 0600 if it does."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
    tighten(path, PRIVATE_FILE)


def append_private(path: Path, text: str) -> None:
    """Append `text` to `path`, creating it with 0600 (never readable by others, even for
    the moment between creating and narrowing it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(text)
    tighten(path, PRIVATE_FILE)


def sqlite_files(database: Path) -> None:
    """The database file (created empty if missing, which SQLite reads as an empty
    database) and its -wal and -shm files, 0600."""
    private_file(database)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(database.with_name(database.name + suffix), PRIVATE_FILE)


def default_bind_host(*, embedded: bool) -> str:
    return "127.0.0.1" if embedded else "0.0.0.0"


def is_loopback(host: str) -> bool:
    """Whether binding `host` serves this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable
