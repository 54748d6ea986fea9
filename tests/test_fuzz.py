"""Issue 4.9: over a thousand generated bad inputs to every POST; each gets a 4xx JSON answer.

Media inputs include every class the hardening issue's probe found: text FFmpeg reads as a
network session or a playlist (SDP, ffconcat, HLS), magic bytes of one container before the
body of another, truncated headers of every accepted format, and pictures of other formats.

After the run no file exists outside the data folder, and the registered user still logs in.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facevoice import create_app
from facevoice.biometrics import audio, images
from facevoice.biometrics.audio import SAMPLE_RATE, sniff_audio_format, wav_bytes
from facevoice.biometrics.images import sniff_image_format
from facevoice.web.requests import json_depth
from tests import media
from tests.conftest import WITHOUT_CHALLENGES, Visitor

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
REQUESTS_MADE: list[int] = []


def b64(data: bytes) -> str:
    """Base64 text of some bytes."""
    return base64.b64encode(data).decode()


def image_bomb() -> bytes:
    """A tiny PNG that claims 100 million pixels."""
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")
    return buffer.getvalue()


def picture_as(fmt: str, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small picture saved in one of Pillow's formats."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(buffer, fmt)
    return buffer.getvalue()


TEN_MINUTES = wav_bytes(np.zeros(10 * 60 * 8_000, dtype=np.float32), sample_rate=8_000)
OBAMA = media.photo("obama.jpg")
PHRASE = media.phrase(media.SPEAKER_A, 0)
PHRASE_SAMPLES = media.utterance(media.SPEAKER_A)[: 2 * SAMPLE_RATE]
# Every container the server accepts, encoded: their headers get cut and their magic swapped.
RECORDINGS = {
    name: media.encode(PHRASE_SAMPLES, name, codec)
    for name, codec in [
        ("wav", "pcm_s16le"),
        ("webm", "libopus"),
        ("ogg", "libopus"),
        ("flac", "flac"),
        ("mp3", "libmp3lame"),
    ]
}
# The magic bytes each accepted container starts with.
AUDIO_MAGIC = {
    "wav": [b"RIFF\x00\x00\x00\x00WAVE"],
    "webm": [b"\x1a\x45\xdf\xa3"],
    "ogg": [b"OggS"],
    "flac": [b"fLaC"],
    "mp3": [b"ID3", b"\xff\xfb"],
}
ALL_AUDIO_MAGIC = [magic for magics in AUDIO_MAGIC.values() for magic in magics]
# (magic, recording) of two different containers: a file's own magic would leave it valid.
MAGIC_SWAPS = [
    (magic, name)
    for kind, magics in AUDIO_MAGIC.items()
    for magic in magics
    for name in sorted(RECORDINGS)
    if name != kind
]
PICTURES = {fmt: picture_as(fmt) for fmt in ["JPEG", "PNG", "WEBP"]}
IMAGE_MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]
OTHER_PICTURES = [
    picture_as(fmt) for fmt in ["GIF", "BMP", "TIFF", "ICO", "PPM", "TGA", "PCX", "JPEG2000", "SGI"]
]

# Text FFmpeg reads, when left to guess, as a network session or a list of other inputs.
lines = st.text(st.characters(codec="ascii", exclude_characters="\x00"), max_size=60)
media_texts = st.one_of(
    st.builds(
        lambda port, ip, rest: (
            f"v=0\r\no=- 0 0 IN IP4 {ip}\r\ns=x\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0\r\n{rest}"
        ),
        st.integers(1, 65535),
        st.sampled_from(["0.0.0.0", "127.0.0.1", "224.0.0.1"]),
        lines,
    ),
    st.builds(
        lambda target, rest: f"ffconcat version 1.0\nfile '{target}'\n{rest}",
        st.sampled_from(
            ["/etc/passwd", "http://127.0.0.1:9/a.wav", "concat:/etc/hosts|/etc/hosts"]
        ),
        lines,
    ),
    st.builds(
        lambda target, rest: f"#EXTM3U\n#EXTINF:10,\n{target}\n{rest}",
        st.sampled_from(["http://127.0.0.1:9/a.ts", "file:///etc/passwd", "/etc/passwd"]),
        lines,
    ),
    st.builds(lambda rest: f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n{rest}\n#EXT-X-ENDLIST\n", lines),
    st.sampled_from(["concat:/etc/passwd|/etc/hosts", "file:/etc/passwd", "udp://0.0.0.0:47000"]),
    lines.filter(lambda text: text != "" and not sniffed(text.encode())),
).map(str.encode)

bad_usernames = st.one_of(
    st.sampled_from(
        [
            "../x",
            "../../etc",
            "a/b",
            "..",
            ".hidden",
            "x" * 33,
            "ab",
            "",
            " ",
            "a\x00b",
            "'; DROP TABLE users; --",
            "alice' OR '1'='1",
            "名前です",
            "ünïcødé",
            "a b",
            "a\\b",
            "%2e%2e%2f",
        ]
    ),
    st.text(max_size=80).filter(lambda s: not media_username_ok(s)),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=3),
)
any_username = st.one_of(bad_usernames, st.sampled_from(["alice", "obama", "bob_1"]))
any_flow = st.one_of(st.sampled_from(["sign_up", "log_in"]), st.text(max_size=10), st.integers())

bad_images = st.one_of(
    st.text(max_size=200),  # broken Base64
    st.binary(max_size=2_000).map(b64),  # not an image
    st.integers(min_value=10, max_value=len(OBAMA) - 10).map(lambda n: b64(OBAMA[:n])),
    st.just(b64(image_bomb())),
    st.just(b64(media.picture())),  # no face
    st.just(b64(media.photo("two_people.jpg"))),
    st.just(b64(PHRASE)),  # a recording sent as a photo
    st.sampled_from(OTHER_PICTURES).map(b64),  # GIF, BMP, TIFF...: never handed to Pillow
    st.sampled_from([b"\x89PNG\r\n\x1a\n" + OBAMA, b"\xff\xd8\xff" + PICTURES["PNG"]]).map(b64),
    st.tuples(st.sampled_from(sorted(PICTURES)), st.integers(0, 120)).map(
        lambda cut: b64(PICTURES[cut[0]][: cut[1]])  # truncated headers
    ),
    st.tuples(st.sampled_from(IMAGE_MAGIC), st.binary(max_size=300)).map(
        lambda m: b64(m[0] + m[1])
    ),
    media_texts.map(b64),
    st.just("data:image/png;base64," + "A" * 10),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
bad_audio = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=4_000).map(b64),
    st.integers(min_value=10, max_value=2_000).map(lambda n: b64(PHRASE[:n])),
    st.just(b64(media.silence())),
    st.just(b64(media.noise())),
    st.just(b64(TEN_MINUTES)),
    st.just(b64(OBAMA)),  # a photo sent as a recording
    media_texts.map(b64),  # SDP, ffconcat, HLS...: never handed to FFmpeg
    st.tuples(st.sampled_from(sorted(RECORDINGS)), st.integers(0, 400)).map(
        lambda cut: b64(RECORDINGS[cut[0]][: cut[1]])  # truncated headers
    ),
    st.sampled_from(MAGIC_SWAPS).map(
        lambda m: b64(m[0] + RECORDINGS[m[1]][len(m[0]) :])  # another container's magic
    ),
    st.tuples(st.sampled_from(ALL_AUDIO_MAGIC), st.binary(max_size=400)).map(
        lambda m: b64(m[0] + m[1])
    ),
    media_texts.map(lambda text: b64(RECORDINGS["wav"][:44] + text)),  # a WAV header, then text
    st.floats(min_value=0.01, max_value=0.9).map(
        lambda s: b64(wav_bytes(np.zeros(int(s * SAMPLE_RATE), dtype=np.float32)))
    ),
    st.integers(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


def sniffed(data: bytes) -> bool:
    """Whether bytes start like a recording or a picture the server accepts."""
    return sniff_audio_format(data) is not None or sniff_image_format(data) is not None


def media_username_ok(value: str) -> bool:
    """Whether a string happens to be a valid username (then it is not a bad one)."""
    from facevoice.web.requests import is_valid_username

    return is_valid_username(value)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory, models):  # type: ignore[no-untyped-def]
    """One app with a registered user 'obama', rate limits off, and the folder around it."""
    root = tmp_path_factory.mktemp("fuzz")
    data_dir = root / "data"
    app = create_app(
        {
            "data_dir": str(data_dir),
            "models": models,
            "warm_up": False,
            **WITHOUT_CHALLENGES,
            "ratelimit": False,
        }
    )
    visitor = Visitor(app.test_client())
    phrases = [media.phrase(media.SPEAKER_A, i) for i in range(3)]
    assert visitor.sign_up("obama", OBAMA, phrases).status_code == 201
    return {"root": root, "data_dir": data_dir, "visitor": visitor}


def post(visitor: Visitor, path: str, body: Any, as_form: bool = False):  # type: ignore[no-untyped-def]
    """POST a JSON (or form) body with the CSRF header, and check the answer is 4xx JSON."""
    headers = {"X-CSRFToken": visitor.token}
    if as_form and isinstance(body, dict):
        form = {k: v for k, v in body.items() if isinstance(v, str)}
        answer = visitor.client.post(path, data=form, headers=headers)
    else:
        answer = visitor.client.post(
            path, data=json.dumps(body), headers=headers, content_type="application/json"
        )
    REQUESTS_MADE.append(1)
    assert 400 <= answer.status_code < 500, (path, body if len(str(body)) < 300 else "...")
    payload = answer.get_json(silent=True)
    assert isinstance(payload, dict), answer.data[:200]
    assert payload["ok"] is False
    assert isinstance(payload["message"], str) and payload["message"]
    return answer


@settings(FUZZ, max_examples=300)
@given(username=any_username, flow=any_flow, image=bad_images, as_form=st.booleans())
def test_bad_photos_get_a_4xx_json_answer(fuzz_env, username, flow, image, as_form) -> None:  # type: ignore[no-untyped-def]
    post(
        fuzz_env["visitor"],
        "/take_photo",
        {"username": username, "flow": flow, "image": image},
        as_form,
    )


@settings(FUZZ, max_examples=300)
@given(username=any_username, flow=any_flow, audio=bad_audio, as_form=st.booleans())
def test_bad_recordings_get_a_4xx_json_answer(fuzz_env, username, flow, audio, as_form) -> None:  # type: ignore[no-untyped-def]
    post(
        fuzz_env["visitor"],
        "/record_voice",
        {"username": username, "flow": flow, "audio": audio},
        as_form,
    )


@settings(FUZZ, max_examples=150)
@given(text=media_texts, flow=st.sampled_from(["sign_up", "log_in"]))
def test_text_formats_as_recordings_are_415_and_never_reach_ffmpeg(fuzz_env, text, flow) -> None:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(audio.av, "open", refuse_to_open)
        answer = post(
            fuzz_env["visitor"],
            "/record_voice",
            {"username": "alice", "flow": flow, "audio": b64(text)},
        )
    assert answer.status_code == 415


@settings(FUZZ, max_examples=100)
@given(picture=st.sampled_from(OTHER_PICTURES) | media_texts)
def test_other_picture_formats_are_415_and_never_reach_pillow(fuzz_env, picture) -> None:  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images.Image, "open", refuse_to_open)
        answer = post(
            fuzz_env["visitor"],
            "/take_photo",
            {"username": "alice", "flow": "sign_up", "image": b64(picture)},
        )
    assert answer.status_code == 415


def refuse_to_open(*args: Any, **kwargs: Any) -> None:
    """Stands in for a decoder's open call that must not happen."""
    raise AssertionError("the upload reached the decoder")


@settings(FUZZ, max_examples=150)
@given(username=bad_usernames, extra=st.dictionaries(st.text(max_size=8), st.text(max_size=8)))
def test_bad_sign_ups_get_a_4xx_json_answer(fuzz_env, username, extra) -> None:  # type: ignore[no-untyped-def]
    post(fuzz_env["visitor"], "/sign_up", {**extra, "username": username})


@settings(FUZZ, max_examples=150)
@given(username=any_username)
def test_bad_log_ins_get_a_4xx_json_answer(fuzz_env, username) -> None:  # type: ignore[no-untyped-def]
    # No samples were given in this session's log-in flow: never a verification.
    post(fuzz_env["visitor"], "/log_in", {"username": username})


@settings(FUZZ, max_examples=100)
@given(
    username=any_username,
    code=st.one_of(
        st.text(max_size=80),
        st.integers(),
        st.none(),
        st.lists(st.text(max_size=4), max_size=3),
        st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
    ),
)
def test_bad_recovery_codes_get_a_4xx_json_answer(fuzz_env, username, code) -> None:  # type: ignore[no-untyped-def]
    post(fuzz_env["visitor"], "/log_in/recovery", {"username": username, "code": code})


@settings(FUZZ, max_examples=100)
@given(
    body=st.one_of(
        st.lists(st.integers(), max_size=3),
        st.text(max_size=20),
        st.integers(),
        st.none(),
        st.floats(allow_nan=False),
    ),
    path=st.sampled_from(
        ["/take_photo", "/record_voice", "/sign_up", "/log_in", "/log_in/recovery"]
    ),
)
def test_bodies_that_are_not_objects_get_a_4xx_json_answer(fuzz_env, body, path) -> None:  # type: ignore[no-untyped-def]
    post(fuzz_env["visitor"], path, body)


@settings(FUZZ, max_examples=100)
@given(username=bad_usernames.filter(lambda u: isinstance(u, str)))
def test_bad_name_checks_get_a_4xx_json_answer(fuzz_env, username) -> None:  # type: ignore[no-untyped-def]
    answer = fuzz_env["visitor"].client.get(
        "/sign_up", query_string={"username": username}, headers={"Accept": "application/json"}
    )
    REQUESTS_MADE.append(1)
    assert answer.status_code == 400
    assert answer.get_json()["ok"] is False


def test_after_the_run_nothing_was_written_outside_the_data_folder(fuzz_env) -> None:  # type: ignore[no-untyped-def]
    assert len(REQUESTS_MADE) >= 1000, "the bad-input tests above must run first"
    root: Path = fuzz_env["root"]
    outside = [p for p in root.rglob("*") if fuzz_env["data_dir"] not in (p, *p.parents)]
    assert outside == []
    assert not Path("/etc/img.png").exists()
    assert not any(p.suffix in {".png", ".jpg", ".wav"} for p in fuzz_env["data_dir"].rglob("*"))


def test_after_the_run_the_registered_user_still_logs_in(fuzz_env) -> None:  # type: ignore[no-untyped-def]
    visitor: Visitor = fuzz_env["visitor"]
    answer = visitor.log_in("obama", media.photo("obama2.jpg"), media.phrase(media.SPEAKER_A, 3))
    assert answer.status_code == 200, answer.json


def nesting(value: Any) -> int:
    """How deeply arrays and objects nest in a JSON value."""
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


json_texts = st.text(st.sampled_from('ab[]{}"\\/:,\n é'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | json_texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_texts, inner, max_size=3),
    max_leaves=30,
)


@settings(FUZZ, max_examples=500)
@given(value=json_values, encoding=st.sampled_from(["utf-8", "utf-16", "utf-32"]))
def test_json_depth_counts_what_a_parser_nests(value: Any, encoding: str) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert json_depth(text.encode(encoding)) == nesting(value)
