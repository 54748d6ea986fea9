"""Run facevoice as real server processes for tests and benchmarks."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

from tests import media

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``facevoice serve`` (gunicorn) in a subprocess, stopped on ``stop()``."""

    def __init__(self, data_dir: Path, env: dict[str, str], workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.with_suffix(".log")
        data_dir.mkdir(parents=True, exist_ok=True)
        full_env = {
            **os.environ,
            "FACEVOICE_DATA_DIR": str(data_dir),
            "FACEVOICE_HOST": "127.0.0.1",
            "FACEVOICE_PORT": str(self.port),
            "FACEVOICE_WORKERS": str(workers),
            **env,
        }
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "facevoice.cli", "serve"],
            env=full_env,
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 180, status: int = 200) -> float:
        """Wait until /readyz answers ``status`` (200: ready); return seconds since launch."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == status:
                    return time.monotonic() - self.started
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or workers still loading their models
            time.sleep(0.2)
        raise TimeoutError(f"/readyz never said {status}: {self.log_path.read_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        """Process ids of gunicorn's workers (children of the master)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class HttpVisitor:
    """A client of the README's HTTP API over real HTTP, with cookies and the page's CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        page = self.http.get(base_url + "/", timeout=30)
        match = CSRF_META.search(page.text)
        assert match, "no csrf-token meta tag"
        self.token = match.group(1)

    def post(self, path: str, base_url: str | None = None, **fields: object) -> requests.Response:
        """POST JSON with the CSRF header to this server (or another sharing the session)."""
        return self.http.post(
            (base_url or self.base_url) + path,
            json=fields,
            headers={"X-CSRFToken": self.token},
            timeout=120,
        )

    def sign_up_obama(self, username: str) -> int:
        """Sign up with obama.jpg and three phrases of speaker A; the final status."""
        self.give_obama_sign_up_samples(username)
        return self.post("/sign_up", username=username).status_code

    def give_obama_sign_up_samples(self, username: str) -> None:
        """The sign-up's photo (obama.jpg) and three phrases of speaker A."""
        self.post(
            "/take_photo",
            username=username,
            flow="sign_up",
            image=media.b64(media.photo("obama.jpg")),
        )
        for index in range(3):
            self.post(
                "/record_voice",
                username=username,
                flow="sign_up",
                audio=media.b64(media.phrase(media.SPEAKER_A, index)),
            )

    def get(self, path: str, base_url: str | None = None, **options: object) -> requests.Response:
        """GET a path."""
        return self.http.get((base_url or self.base_url) + path, timeout=30, **options)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; ``TimeoutError`` naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.2)


def signal_processes(pids: list[int], sig: signal.Signals) -> None:
    """Send a signal to each process that still exists."""
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def child_pids(pid: int) -> list[int]:
    """Process ids of the direct children of a process."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in out.stdout.split()]


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence.

    Tests stop, freeze (SIGSTOP) and restart it; the shared Redis is never touched.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        no_persistence = ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *no_persistence],
            stdout=(self.folder / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_until(lambda: _answers(client), 10, f"redis-server on port {self.port} answering")

    def stop(self) -> None:
        """Stop it."""
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """Suspend it: connections open, nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume it after ``freeze``."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb, pg_ctl) on a free port.

    PostgreSQL refuses to run as root, so under root every command runs as the
    ``postgres`` user, in a folder that user owns. The shared server is never touched.
    """

    USER = "postgres"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="facevoice-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, self.USER, self.USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: open connections are cut)."""
        self.thaw()
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        """Whether the postmaster runs."""
        status = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"facevoice_{secrets.token_hex(4)}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def freeze(self) -> None:
        """Suspend the postmaster and every backend: connections open, nothing answers."""
        signal_processes(self._pids(), signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume them after ``freeze``."""
        signal_processes(self._pids(), signal.SIGCONT)

    def remove(self) -> None:
        """Stop the cluster if it runs and delete its files."""
        if self.running:
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _pids(self) -> list[int]:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        return [postmaster, *child_pids(postmaster)]

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            command = ("runuser", "-u", self.USER, "--", *command)
        return subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=check, timeout=60
        )
