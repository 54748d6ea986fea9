"""Write the video clip's frames as photos, and their pairs file, for ``facevoice calibrate``.

    .venv/bin/python eval/clip_frames.py /tmp/facevoice-clip

writes OUT/stage/NNN.png (the man on stage, frames 84 to 208) and OUT/audience/NNN.png (one
audience member, frames 212 to 240), every 4th frame, as lossless PNG (never committed), and
eval/faces-pairs-clip.csv: every pair of those frames, genuine within a person, impostor
across (the same trials as bench/face_clip_pairs.py). No photo of eval/persons.json is a
frame of the clip, so a calibration fitted on these pairs is held out from `evaluate fused`.
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import av
from PIL import Image

HERE = Path(__file__).resolve().parent
CLIP = HERE.parents[1] / "shared" / "data" / "faces" / "short_hamilton_clip.mp4"
PAIRS = HERE / "faces-pairs-clip.csv"
PERSONS = {"stage": range(84, 209), "audience": range(212, 241)}
STEP = 4


def write_frames(out: Path) -> dict[str, list[str]]:
    """Each person's frames written as PNG under ``out``; their paths relative to it."""
    wanted = {i: person for person, frames in PERSONS.items() for i in list(frames)[::STEP]}
    written: dict[str, list[str]] = {person: [] for person in PERSONS}
    with av.open(str(CLIP)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number in wanted:
                name = f"{wanted[number]}/{number:03d}.png"
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(frame.to_ndarray(format="rgb24")).save(out / name)
                written[wanted[number]].append(name)
            if number >= max(wanted):
                break
    return written


def write_pairs(frames: dict[str, list[str]], path: Path) -> int:
    """Every pair of frames: Yes within a person, No across; returns how many."""
    people = list(frames.values())
    rows = [(x, y, "Yes") for p in people for x, y in itertools.combinations(p, 2)]
    rows += [
        (x, y, "No")
        for a, b in itertools.combinations(people, 2)
        for x, y in itertools.product(a, b)
    ]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["file_x", "file_y", "Decision"])
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="Folder for the frames (created).")
    args = parser.parse_args()
    frames = write_frames(args.out)
    count = write_pairs(frames, PAIRS)
    print(f"{sum(map(len, frames.values()))} frames in {args.out}, {count} pairs in {PAIRS}")


if __name__ == "__main__":
    main()
