"""Run facevoice as real server processes for tests and benchmarks."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

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

    def wait_ready(self, timeout: float = 180) -> float:
        """Wait until /readyz answers 200; return seconds since launch."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return time.monotonic() - self.started
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or workers still loading their models
            time.sleep(0.2)
        raise TimeoutError(f"server not ready: {self.log_path.read_text()[-3000:]}")

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
    """A client of SPEC §2 over real HTTP, with cookies and the page's CSRF token."""

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
        return self.post("/sign_up", username=username).status_code

    def get(self, path: str, base_url: str | None = None, **options: object) -> requests.Response:
        """GET a path."""
        return self.http.get((base_url or self.base_url) + path, timeout=30, **options)  # type: ignore[arg-type]
