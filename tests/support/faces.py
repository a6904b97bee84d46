"""Real portraits for the faces signal (tests/data/faces, see SOURCES.md there)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.support.samples import photo

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def group_photo(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two portraits side by side at one height: a photo with two people in it."""
    height = 640
    parts = [im.resize((round(im.width * height / im.height), height)) for im in (left, right)]
    canvas = Image.new("RGB", (sum(p.width for p in parts), height), "white")
    canvas.paste(parts[0], (0, 0))
    canvas.paste(parts[1], (parts[0].width, 0))
    return canvas


def face_folder(folder: Path, names: tuple[str, ...]) -> Path:
    """``names`` of the portraits (``person_a_1``...), scikit-image photos (``astronaut``...) or
    ``group`` (person B beside the astronaut), written as JPEG files."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if name == "group":
            image = group_photo(photo("astronaut"), Image.open(FACES / "person_b_1.jpg"))
        elif (FACES / f"{name}.jpg").is_file():
            image = Image.open(FACES / f"{name}.jpg")
        else:
            image = photo(name)
        image.convert("RGB").save(folder / f"{name}.jpg", quality=92)
    return folder
