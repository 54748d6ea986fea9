"""Every setting of facevoice, read from ``FACEVOICE_*`` environment variables.

Each field of :class:`Settings` is set by the environment variable ``FACEVOICE_<FIELD>``
(upper case); the README's configuration table is generated from the same fields.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "FACEVOICE_"
MEMORY_STORAGE = "memory://"


@dataclass(frozen=True)
class Settings:
    """Configuration of one facevoice installation; units are in the names."""

    data_dir: str = field(
        default="", metadata={"doc": "Data folder holding db/ and tmp/ (default: instance folder)"}
    )
    database_url: str = field(
        default="", metadata={"doc": "SQLAlchemy URL (default: SQLite file db/facevoice.sqlite3)"}
    )
    secret_key: str = field(
        default="", metadata={"doc": "Session signing key (default: generated once into data dir)"}
    )
    template_key: str = field(
        default="", metadata={"doc": "AES-256 key for templates, 64 hex digits (default: key file)"}
    )
    template_key_file: str = field(
        default="",
        metadata={"doc": "File holding the template key (default: template.key in data dir)"},
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"doc": "Address `make run` and `facevoice serve` listen on (keep it local)"},
    )
    port: int = field(default=5000, metadata={"doc": "Port `make run` and `facevoice serve` use"})
    workers: int = field(
        default=0,
        metadata={
            "doc": "Worker processes of `facevoice serve`; 0: one per core, but 1 while rate "
            "limits are counted in memory"
        },
    )
    request_timeout_seconds: int = field(
        default=120, metadata={"doc": "`facevoice serve` restarts a worker stuck this long"}
    )
    face_max_fused_distance: float = field(
        default=1.2,
        metadata={
            "doc": "A face matches when its fused dlib+SFace distance is at most this "
            "(1 = each model at its own reference distance)"
        },
    )
    face_max_cosine_distance: float = field(
        default=0.07,
        metadata={
            "doc": "Accounts enrolled before SFace (dlib alone): a face matches when dlib's "
            "cosine distance is at most this"
        },
    )
    voice_min_similarity: float = field(
        default=0.67,
        metadata={"doc": "A voice matches when its cosine similarity is at least this"},
    )
    fusion: str = field(
        default="thresholds",
        metadata={
            "doc": "How face and voice decide a log-in: thresholds (each passes its own) or "
            "llr (calibrated log-likelihood ratios summed, each above a floor)"
        },
    )
    # The LLR calibration: `facevoice calibrate --llr` on eval/faces-pairs-clip.csv (the clip's
    # frames: 493 genuine, 248 impostor pairs) and the calibration voice speakers (3 enrolled:
    # 9,396 genuine, 20,542 impostor trials); none is in eval/persons.json. The sum (about
    # ln 1,000) and the floor (0: neither may favour an impostor) were chosen on those trials
    # (bench/fusion_tuning.py; README, "Face and voice together").
    face_llr_offset: float = field(
        default=18.03,
        metadata={"doc": "Face LLR in nats = this + FACE_LLR_PER_DISTANCE × distance"},
    )
    face_llr_per_distance: float = field(
        default=-14.2, metadata={"doc": "Face LLR change per unit of fused distance (nats)"}
    )
    voice_llr_offset: float = field(
        default=-68.76,
        metadata={"doc": "Voice LLR in nats = this + VOICE_LLR_PER_SIMILARITY × similarity"},
    )
    voice_llr_per_similarity: float = field(
        default=99.86, metadata={"doc": "Voice LLR change per unit of cosine similarity (nats)"}
    )
    llr_min_sum: float = field(
        default=6.9, metadata={"doc": "llr fusion: face and voice LLRs must sum to at least this"}
    )
    llr_min_each: float = field(
        default=0.0,
        metadata={"doc": "llr fusion: the floor each of the face and voice LLRs must reach"},
    )
    voice_challenge: bool = field(
        default=True, metadata={"doc": "Log-in recordings must say random digits shown by the page"}
    )
    face_challenge: bool = field(
        default=True,
        metadata={"doc": "The log-in capture must show a head turn to a random side"},
    )
    challenge_seconds: int = field(
        default=120, metadata={"doc": "A log-in challenge is valid this long, and used once"}
    )
    fixed_voice_challenge: str = field(
        default="", metadata={"doc": "Tests only (needs TESTING): always issue these digits"}
    )
    fixed_face_turn: str = field(
        default="", metadata={"doc": "Tests only (needs TESTING): always ask for this side"}
    )
    testing_skip_checks: str = field(
        default="",
        metadata={
            "doc": "Tests only (needs TESTING): log-in capture checks to skip, by name (commas: "
            "turn, depth, digits, sync)"
        },
    )
    max_request_bytes: int = field(
        default=20 * 1024 * 1024, metadata={"doc": "Largest request body accepted (413 beyond)"}
    )
    max_image_pixels: int = field(
        default=40_000_000, metadata={"doc": "Largest photo accepted, in pixels (413 beyond)"}
    )
    max_frame_width_px: int = field(
        default=1920,
        metadata={"doc": "Widest head-turn frame accepted, in pixels, either way up (413 beyond)"},
    )
    max_frame_height_px: int = field(
        default=1080,
        metadata={"doc": "Tallest head-turn frame accepted, in pixels, either way up (413 beyond)"},
    )
    max_burst_pixels: int = field(
        default=24_000_000,
        metadata={"doc": "Most pixels of all frames of one head-turn burst together (413 beyond)"},
    )
    max_capture_pixels: int = field(
        default=50_000_000,
        metadata={
            "doc": "Most pixels of all frames of one log-in capture together (413 beyond; "
            "150 frames of 640×480 fit)"
        },
    )
    max_json_depth: int = field(
        default=16, metadata={"doc": "Deepest nesting of arrays and objects in a JSON body (400)"}
    )
    face_detect_width_px: int = field(
        default=480, metadata={"doc": "The face detector scans a copy fitting a square this wide"}
    )
    face_landmarker_file: str = field(
        default="",
        metadata={
            "doc": "MediaPipe's face_landmarker.task (default: share/facevoice/ in the "
            "virtual environment, where `make install` puts it)"
        },
    )
    quality_checks: bool = field(
        default=True,
        metadata={
            "doc": "Refuse poor photos and recordings (face size, light, focus, pose, eyes; "
            "clipping, loudness, noise) with advice (422)"
        },
    )
    min_speech_seconds: float = field(
        default=1.0, metadata={"doc": "Least speech a recording must hold after trimming silence"}
    )
    max_audio_seconds: float = field(default=30.0, metadata={"doc": "Longest recording accepted"})
    max_enroll_phrases: int = field(
        default=5, metadata={"doc": "Most voice phrases kept for one sign-up"}
    )
    attempt_timeout_seconds: int = field(
        default=600, metadata={"doc": "Pending samples of an unfinished attempt expire after this"}
    )
    attempt_store_url: str = field(
        default="",
        metadata={"doc": "Where pending attempts live: empty for tmp/, or redis://host:port/db"},
    )
    ratelimit: bool = field(
        default=True, metadata={"doc": "Rate limiting on (`off` for load tests; lockout stays)"}
    )
    ratelimit_storage_url: str = field(
        default="",
        metadata={
            "doc": "Where rate-limit counters live, e.g. redis://host:6379 (empty: memory://, "
            "counted per process)"
        },
    )
    ratelimit_per_ip: str = field(
        default="300 per minute;3000 per hour",
        metadata={"doc": "Requests one client address may make to each limited route"},
    )
    ratelimit_per_username: str = field(
        default="30 per minute;300 per hour",
        metadata={"doc": "Requests naming one username each limited route accepts"},
    )
    lockout_after_failures: int = field(
        default=5, metadata={"doc": "Consecutive failed log-ins before each try must wait"}
    )
    lockout_wait_seconds: int = field(
        default=30, metadata={"doc": "Wait between tries once an account is locked out"}
    )
    disable_after_failures: int = field(
        default=50, metadata={"doc": "Consecutive failed log-ins that disable biometric log-in"}
    )
    database_timeout_seconds: float = field(
        default=3.0,
        metadata={"doc": "PostgreSQL connect and statement timeout; 503 when it runs out"},
    )
    redis_timeout_seconds: float = field(
        default=2.0, metadata={"doc": "Redis connect and answer timeout; 503 when it runs out"}
    )
    https: bool = field(
        default=False, metadata={"doc": "Served over HTTPS: Secure cookies and HSTS"}
    )
    hsts_include_subdomains: bool = field(
        default=False, metadata={"doc": "Over HTTPS, HSTS covers every subdomain too"}
    )
    proxy_hops: int = field(
        default=0,
        metadata={"doc": "Reverse proxies in front whose X-Forwarded-For and -Proto to trust"},
    )
    trusted_proxies: str = field(
        default="127.0.0.1,::1",
        metadata={"doc": "Addresses or networks whose X-Forwarded-* headers count (commas)"},
    )
    server_name: str = field(
        default="",
        metadata={"doc": "Host (and port) of the site; every request is served as this host"},
    )
    issuer: str = field(
        default="",
        metadata={"doc": "Public URL of the site; gives the host when SERVER_NAME is empty"},
    )
    origin: str = field(
        default="",
        metadata={
            "doc": "Origin passkeys are bound to, scheme://host[:port] (default: ISSUER's, "
            "else SERVER_NAME's, else http://localhost:PORT)"
        },
    )
    passkeys: str = field(
        default="optional",
        metadata={"doc": "Passkeys at sign-up: off, optional (offered) or required"},
    )
    passkey_only_login: bool = field(
        default=True,
        metadata={"doc": "A passkey alone (with user verification) may log in, no biometrics"},
    )
    oidc_signing_key_file: str = field(
        default="",
        metadata={
            "doc": "OpenID Connect signing keys, shared by every machine (default: "
            "oidc-signing-keys.json in data dir, made once, mode 0600)"
        },
    )
    oidc_code_seconds: int = field(
        default=60, metadata={"doc": "An OpenID Connect authorization code works this long, once"}
    )
    oidc_access_token_seconds: int = field(
        default=600, metadata={"doc": "Lifetime of an OpenID Connect access token"}
    )
    oidc_id_token_seconds: int = field(
        default=600, metadata={"doc": "Lifetime of an OpenID Connect ID token"}
    )
    oidc_refresh_token_seconds: int = field(
        default=30 * 86400,
        metadata={"doc": "Lifetime of a refresh token (scope offline_access; rotates on use)"},
    )
    session_idle_seconds: int = field(
        default=3600, metadata={"doc": "A logged-in session ends after this long without requests"}
    )
    session_max_seconds: int = field(
        default=86400, metadata={"doc": "A logged-in session ends this long after log-in"}
    )
    reauth_seconds: int = field(
        default=300,
        metadata={
            "doc": "New recovery codes, re-enrollment and deletion need a log-in this recent"
        },
    )
    warm_up: bool = field(
        default=True, metadata={"doc": "Load and run the models once when the app starts"}
    )
    torch_threads: int = field(
        default=1, metadata={"doc": "Torch threads per process (1 is fastest on a busy machine)"}
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from ``FACEVOICE_*`` variables, then apply ``overrides`` by field name."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _parse(f.type, raw, ENV_PREFIX + f.name.upper())
        settings = cls(**values)
        if overrides:
            unknown = set(overrides) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
            settings = dataclasses.replace(settings, **overrides)
        return settings

    @property
    def template_key_path(self) -> Path:
        """The key file used when no key is given in the environment."""
        return Path(self.template_key_file or Path(self.data_dir) / "template.key")

    @property
    def ratelimit_storage(self) -> str:
        """The rate-limit storage in use: the configured URL, or ``memory://``."""
        return self.ratelimit_storage_url or MEMORY_STORAGE

    @property
    def ratelimit_per_process(self) -> bool:
        """Whether rate limits are on and counted in each process's memory, not shared."""
        return self.ratelimit and self.ratelimit_storage.startswith(MEMORY_STORAGE)

    @property
    def public_host(self) -> str:
        """The host requests are served as: ``server_name``, else the issuer's, else any."""
        return self.server_name or urlsplit(self.issuer).netloc

    @property
    def webauthn_origin(self) -> str:
        """The origin passkeys are made for: ``origin``, else the issuer's, else the server
        name's, else localhost on ``port`` (browsers allow WebAuthn there over plain HTTP)."""
        if self.origin:
            return self.origin.rstrip("/")
        if self.issuer:
            parts = urlsplit(self.issuer)
            return f"{parts.scheme}://{parts.netloc}"
        if self.server_name:
            return f"{'https' if self.https else 'http'}://{self.server_name}"
        return f"http://localhost:{self.port}"

    @property
    def webauthn_rp_id(self) -> str:
        """The relying-party id of passkeys: the origin's host name."""
        return urlsplit(self.webauthn_origin).hostname or "localhost"

    @property
    def oidc_signing_key_path(self) -> Path:
        """The OpenID Connect signing key file."""
        return Path(self.oidc_signing_key_file or Path(self.data_dir) / "oidc-signing-keys.json")

    @property
    def oidc_issuer(self) -> str:
        """The issuer: ``issuer``, else ``http://HOST:PORT`` of the development server.

        Never taken from a request's Host header, which a client chooses.
        """
        return (self.issuer or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def oidc_longest_token_seconds(self) -> int:
        """How long a retired signing key stays published: the longest signed-token life."""
        return max(self.oidc_id_token_seconds, self.oidc_access_token_seconds)

    def with_data_dir(self, default_dir: str | Path) -> Settings:
        """Return a copy whose data folder and database URL are filled in."""
        data_dir = Path(self.data_dir or default_dir).resolve()
        database_url = self.database_url or f"sqlite:///{data_dir / 'db' / 'facevoice.sqlite3'}"
        return dataclasses.replace(self, data_dir=str(data_dir), database_url=database_url)


def _parse(type_name: Any, raw: str, name: str) -> Any:
    """Convert an environment string to the field's type, with a clear error."""
    kind = type_name if isinstance(type_name, str) else type_name.__name__
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind}") from None
    return raw


def documented_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) for every setting, for the README."""
    rows = []
    for f in fields(Settings):
        rows.append((ENV_PREFIX + f.name.upper(), repr(f.default), f.metadata.get("doc", "")))
    return rows
