"""Write the face pairs files and the persons file of eval/ from ../shared/data.

    .venv/bin/python eval/make_lists.py

The identity of every photo was checked by eye. Paths in the pairs files are relative to
../shared/data/faces (the --images folder); paths in persons.json are relative to eval/.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
from pathlib import Path

EVAL = Path(__file__).resolve().parent
DATA = EVAL.parent.parent / "shared" / "data"
FACES = DATA / "faces"
LIBRISPEECH = DATA / "voices" / "librispeech"
PART_SECONDS = 3.0

# photo -> (identity, photograph). Photos of one photograph are copies, crops or resizes of it.
# Group photos hold several people; the evaluation reports them as unusable (several faces).
PHOTOS = {
    "32bit.png": ("obama", "obama2"),  # obama2.jpg saved as a PNG with an alpha channel
    "biden.jpg": ("biden", "biden"),
    "obama-1080p.jpg": ("obama", "obama"),  # obama.jpg letterboxed to 16:9
    "obama-240p.jpg": ("obama", "obama"),
    "obama-480p.jpg": ("obama", "obama"),
    "obama-720p.jpg": ("obama", "obama"),
    "obama.jpg": ("obama", "obama"),
    "obama2.jpg": ("obama", "obama2"),
    "obama3.jpg": ("obama", "obama3"),
    "obama_partial_face.jpg": ("obama", "obama"),  # crops of obama.jpg
    "obama_partial_face2.jpg": ("obama", "obama"),
    "obama_small.jpg": ("obama", "obama"),
    "people/alex_lacamoire/img1.jpg": ("alex_lacamoire", "alex_lacamoire1"),
    "people/biden/biden.jpg": ("biden", "biden"),  # byte-identical to biden.jpg
    "people/biden/biden2.jpg": ("biden", "biden2"),
    "people/kit_harington/john1.jpeg": ("kit_harington", "kit_harington1"),
    "people/kit_harington/john2.jpeg": ("kit_harington", "kit_harington2"),
    "people/obama/obama.jpg": ("obama", "obama"),  # byte-identical to obama.jpg
    "people/obama/obama2.jpg": ("obama", "obama2"),  # byte-identical to obama2.jpg
    "people/rose_leslie/img1.jpg": ("rose_leslie", "rose_leslie1"),
    "people/rose_leslie/img2.jpg": ("rose_leslie", "rose_leslie2"),
    "people/test_alex_lacamoire1.jpg": ("alex_lacamoire", "alex_lacamoire2"),
    "people/test_johnsnow_test1.jpg": ("kit_harington", "kit_harington3"),
    "people/test_kit_with_rose.jpg": ("kit_harington+rose_leslie", "kit_with_rose"),
    "people/test_obama1.jpg": ("obama", "obama4"),
    "people/test_obama_and_biden.jpg": ("biden+obama", "obama_and_biden"),
    "two_people.jpg": ("biden+obama", "two_people"),
}

# Chimeric persons for the fused evaluation: one file per photograph, and the voice of a
# LibriSpeech speaker with an odd id (the held-out half) and five 3 s parts.
PERSONS = {
    "obama": (
        ["obama.jpg", "obama2.jpg", "obama3.jpg", "people/test_obama1.jpg"],
        "1069-133699-0000.flac",
    ),
    "biden": (["biden.jpg", "people/biden/biden2.jpg"], "1235-135883-0000.flac"),
    "alex_lacamoire": (
        ["people/alex_lacamoire/img1.jpg", "people/test_alex_lacamoire1.jpg"],
        "1737-142396-0000.flac",
    ),
    "kit_harington": (
        [
            "people/kit_harington/john1.jpeg",
            "people/kit_harington/john2.jpeg",
            "people/test_johnsnow_test1.jpg",
        ],
        "1841-150351-0000.flac",
    ),
    "rose_leslie": (
        ["people/rose_leslie/img1.jpg", "people/rose_leslie/img2.jpg"],
        "1867-148436-0000.flac",
    ),
}
VOICE_PARTS = 5


def content_hash(name: str) -> str:
    """SHA-256 of a photo's bytes."""
    return hashlib.sha256((FACES / name).read_bytes()).hexdigest()


def check_photos() -> None:
    """Every photo under faces/ is labelled, and every label names a photo."""
    suffixes = {".jpg", ".jpeg", ".png"}
    found = {str(p.relative_to(FACES)) for p in FACES.rglob("*") if p.suffix in suffixes}
    if found != set(PHOTOS):
        raise SystemExit(f"labels and photos differ: {sorted(found ^ set(PHOTOS))}")


def tuning_photo(name: str) -> bool:
    """Photos the fused face threshold was chosen on: those at the top of faces/."""
    return "/" not in name


def test_photos(hashes: dict[str, str]) -> list[str]:
    """Photos it is tested on: those under people/, less byte-identical copies of the others."""
    tuning = {hashes[name] for name in PHOTOS if tuning_photo(name)}
    return [name for name in PHOTOS if not tuning_photo(name) and hashes[name] not in tuning]


def write_pairs(
    path: Path, distinct_photographs: bool, photos: list[str] | None = None
) -> int:
    """Write every pair of photos, except byte-identical files (and same photographs)."""
    hashes = {name: content_hash(name) for name in PHOTOS}
    rows = []
    for x, y in itertools.combinations(sorted(photos or PHOTOS), 2):
        if hashes[x] == hashes[y]:
            continue
        if distinct_photographs and PHOTOS[x][1] == PHOTOS[y][1]:
            continue
        rows.append((x, y, "Yes" if PHOTOS[x][0] == PHOTOS[y][0] else "No"))
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["file_x", "file_y", "Decision"])
        writer.writerows(rows)
    return len(rows)


def write_persons(path: Path) -> None:
    """Write the persons file, paths relative to it."""
    faces = os.path.relpath(FACES, path.parent)
    voices = os.path.relpath(LIBRISPEECH, path.parent)
    persons = [
        {
            "name": name,
            "faces": [f"{faces}/{photo}" for photo in photos],
            "voices": [
                {"path": f"{voices}/{utterance}", "start": start, "end": start + PART_SECONDS}
                for start in (i * PART_SECONDS for i in range(VOICE_PARTS))
            ],
        }
        for name, (photos, utterance) in PERSONS.items()
    ]
    path.write_text(json.dumps({"persons": persons}, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    """Write the pairs files (all, distinct, tune and test splits) and eval/persons.json."""
    check_photos()
    for name, distinct in (("faces-pairs.csv", False), ("faces-pairs-distinct.csv", True)):
        print(f"eval/{name}: {write_pairs(EVAL / name, distinct)} pairs")
    hashes = {name: content_hash(name) for name in PHOTOS}
    splits = {
        "faces-pairs-tune.csv": [name for name in PHOTOS if tuning_photo(name)],
        "faces-pairs-test.csv": test_photos(hashes),
    }
    for name, photos in splits.items():
        print(f"eval/{name}: {write_pairs(EVAL / name, False, photos)} pairs")
    write_persons(EVAL / "persons.json")
    print(f"eval/persons.json: {len(PERSONS)} persons")


if __name__ == "__main__":
    main()
