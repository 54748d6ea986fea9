"""Benchmarks of the production server (issue 7): cold start, latency, throughput, memory.

Runs ``facevoice serve`` with 2 gunicorn workers on a fresh data folder (rate limits off,
lockout on), and prints each figure beside its target:

    .venv/bin/python bench/server_bench.py [--seconds 60] [--requests 50] [--clients 4]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facevoice.biometrics.audio import decode_audio, speech_samples
from facevoice.biometrics.face import verify_face
from facevoice.biometrics.images import load_image
from facevoice.biometrics.models import load_biometrics
from facevoice.biometrics.voice import voice_check
from facevoice.config import Settings
from tests import media
from tests.browser.fake_media import webcam_frame
from tests.servers import HttpVisitor, ServerProcess

DEFAULTS = Settings()
USERNAME = "benchuser"
TARGET_OVERHEAD = 1.25
TARGET_THROUGHPUT_SHARE = 0.8
TARGET_WORKER_MB = 700


def photo_640x480() -> bytes:
    """obama2.jpg framed as a 640×480 webcam picture, as a JPEG."""
    buffer = io.BytesIO()
    webcam_frame(media.FACES / "obama2.jpg").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def percentile(values: list[float], share: float) -> float:
    """The value under which ``share`` of the values lie."""
    return float(np.percentile(values, share * 100))


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds each of ``repeat`` calls took."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


class Bodies:
    """Request bodies prepared once, so clients spend no CPU building them."""

    def __init__(self) -> None:
        self.photo = photo_640x480()
        self.voice = media.phrase(media.SPEAKER_A, 3)
        self.take_photo = json.dumps(
            {"username": USERNAME, "flow": "log_in", "image": base64.b64encode(self.photo).decode()}
        ).encode()
        self.record_voice = json.dumps(
            {"username": USERNAME, "flow": "log_in", "audio": base64.b64encode(self.voice).decode()}
        ).encode()
        self.log_in = json.dumps({"username": USERNAME}).encode()


def sign_up(url: str) -> None:
    """Register the benchmark user."""
    assert HttpVisitor(url).sign_up_obama(USERNAME) == 201


def log_in(visitor: HttpVisitor, bodies: Bodies) -> tuple[list[float], bool]:
    """One complete log-in; the three request times and whether every answer was right."""
    times, ok = [], True
    headers = {"X-CSRFToken": visitor.token, "Content-Type": "application/json"}
    for path, body in (
        ("/take_photo", bodies.take_photo),
        ("/record_voice", bodies.record_voice),
        ("/log_in", bodies.log_in),
    ):
        start = time.perf_counter()
        answer = visitor.http.post(visitor.base_url + path, data=body, headers=headers, timeout=120)
        times.append(time.perf_counter() - start)
        ok = ok and answer.status_code == 200
    return times, ok


def bare_model_times(bodies: Bodies, repeat: int) -> dict[str, list[float]]:
    """The same work without the server: decode and embed, and the two comparisons."""
    models = load_biometrics()
    models.warm_up()
    face = models.face.embed(load_image(bodies.photo, DEFAULTS.max_image_pixels))
    voice = models.voice.embed(decode_audio(bodies.voice, 30))
    return {
        "/take_photo": timed(
            lambda: models.face.embed(load_image(bodies.photo, DEFAULTS.max_image_pixels)),
            repeat,
        ),
        "/record_voice": timed(
            lambda: models.voice.embed(speech_samples(decode_audio(bodies.voice, 30), 1.0)),
            repeat,
        ),
        "/log_in": timed(
            lambda: (verify_face(face, face, 0.07), voice_check(voice, voice, 0.6)), repeat
        ),
    }


def worker_memory_mb(server: ServerProcess) -> list[float]:
    """Resident memory of each gunicorn worker, in MB."""
    sizes = []
    for pid in server.worker_pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def cold_start(data_dir: Path, env: dict[str, str]) -> tuple[ServerProcess, float]:
    """Launch the server on a folder with a registered user; seconds to the first log-in."""
    server = ServerProcess(data_dir, env, workers=2)
    bodies = Bodies()
    answered = 0
    while answered < 3:
        try:
            visitor = HttpVisitor(server.url)
            _, ok = log_in(visitor, bodies)
            if ok:
                return server, time.monotonic() - server.started
            answered += 1
        except requests.ConnectionError:
            time.sleep(0.05)
        if server.process.poll() is not None:
            raise RuntimeError(server.log_path.read_text()[-2000:])
    server.stop()
    raise RuntimeError("the benchmark log-in was refused; check the inputs")


def throughput(url: str, seconds: float, clients: int) -> dict[str, float]:
    """Complete log-ins by concurrent clients for ``seconds``."""
    bodies = Bodies()
    results: list[tuple[float, bool]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        visitor = HttpVisitor(url)
        while time.monotonic() < stop_at:
            start = time.perf_counter()
            try:
                _, ok = log_in(visitor, bodies)
            except requests.RequestException:
                ok = False
            with lock:
                results.append((time.perf_counter() - start, ok))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    durations = [d for d, ok in results if ok]
    return {
        "log_ins": len(durations),
        "per_second": len(durations) / elapsed,
        "p95": percentile(durations, 0.95) if durations else float("nan"),
        "errors": sum(1 for _, ok in results if not ok),
    }


def main() -> None:
    """Run the four benchmarks and print their figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    # The bare SPEC §2 flow: a single photo and any phrase (challenges measured apart).
    env = {
        "FACEVOICE_RATELIMIT": "off",
        "FACEVOICE_VOICE_CHALLENGE": "off",
        "FACEVOICE_FACE_CHALLENGE": "off",
    }
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        setup = ServerProcess(data_dir, env, workers=1)
        setup.wait_ready()
        sign_up(setup.url)
        setup.stop()

        server, cold = cold_start(data_dir, env)
        try:
            server.wait_ready()
            report(server, cold, args)
        finally:
            server.stop()


def report(server: ServerProcess, cold: float, args: argparse.Namespace) -> None:
    """Measure latency, throughput and memory on a running server, and print everything."""
    bodies = Bodies()
    memory_warm = worker_memory_mb(server)
    visitor = HttpVisitor(server.url)
    served: dict[str, list[float]] = {"/take_photo": [], "/record_voice": [], "/log_in": []}
    for _ in range(args.requests):
        times, ok = log_in(visitor, bodies)
        assert ok, "a benchmark log-in failed"
        for path, seconds in zip(served, times, strict=True):
            served[path].append(seconds)
    bare = bare_model_times(bodies, args.requests)

    print(
        f"facevoice server benchmark: 2 workers, {args.requests} requests each, "
        f"{args.clients} clients for {args.seconds:.0f} s\n"
    )
    print(f"Cold start (launch to first answered log-in): {cold:.1f} s\n")
    print("Latency (ms)        server p50  server p95   bare p50   bare p95   p50 ratio")
    for path in served:
        s50, s95 = percentile(served[path], 0.5), percentile(served[path], 0.95)
        b50, b95 = percentile(bare[path], 0.5), percentile(bare[path], 0.95)
        print(
            f"  {path:16s} {s50 * 1000:10.1f} {s95 * 1000:11.1f} {b50 * 1000:10.1f} "
            f"{b95 * 1000:10.1f} {s50 / b50:11.2f}"
        )
    server_login = sum(statistics.median(served[p]) for p in served)
    bare_login = sum(statistics.median(bare[p]) for p in bare)
    ratio = server_login / bare_login
    print(
        f"  complete log-in  {server_login * 1000:10.1f} {'':11s} {bare_login * 1000:10.1f} "
        f"{'':10s} {ratio:11.2f}   target <= {TARGET_OVERHEAD}\n"
    )

    result = throughput(server.url, args.seconds, args.clients)
    capacity = 2 / bare_login  # two cores, each doing nothing but the model calls
    share = result["per_second"] / capacity
    print(
        f"Throughput: {result['per_second']:.2f} log-ins/s ({result['log_ins']:.0f} in "
        f"{args.seconds:.0f} s), p95 {result['p95'] * 1000:.0f} ms, errors "
        f"{result['errors']:.0f}"
    )
    print(
        f"  bare model calls allow {capacity:.2f} log-ins/s on 2 cores: {share:.0%} of it, "
        f"target >= {TARGET_THROUGHPUT_SHARE:.0%}\n"
    )
    memory_after = worker_memory_mb(server)
    print(
        "Memory per worker (MB): after warm-up "
        + ", ".join(f"{m:.0f}" for m in memory_warm)
        + "; after the throughput run "
        + ", ".join(f"{m:.0f}" for m in memory_after)
        + f"; target <= {TARGET_WORKER_MB}"
    )
    print(
        json.dumps(
            {
                "cold_start_s": round(cold, 2),
                "login_overhead_ratio": round(ratio, 3),
                "throughput_per_s": round(result["per_second"], 3),
                "throughput_share": round(share, 3),
                "errors": result["errors"],
                "worker_mb_max": round(max(memory_warm + memory_after), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
