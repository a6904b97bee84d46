"""ORB keypoints of one image, spread over the frame, and their compact byte form."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from lookalike.signals.duplicate.localfeatures import hamming

if TYPE_CHECKING:
    from numpy.typing import NDArray

MIN_SIDE = 512
"""Shorter edge (pixels) the images should be decoded at for :func:`extract`."""
INDEX_POINTS = 512
"""Keypoints kept per indexed image."""
QUERY_POINTS = 768
"""Keypoints to extract from a query image (more than stored: the query is not kept)."""

DESCRIPTOR_BYTES = 32
_OVERSAMPLE = 4
_GRID = 4
_FAST_THRESHOLDS = (20, 10, 5)
_FILL_FAST = 8
"""FAST threshold of the fill: a plain wall's or sky's faint corners, which the first pass's
strongest-first cut leaves out."""
_FILL_APART = 4.0
"""Fill points closer than this (pixels at the detection size) to a kept point are the same
corner again: a second descriptor of it would make the ratio test reject both."""
_HALF_PATCH = 15
"""Radius of the disc ORB orients a keypoint by (the intensity centroid)."""
_WORK_MIN_SIDE = 384
"""Smaller images are upscaled to this before detection: ORB drops a 31 px border per level."""
_WORK_MAX_SIDE = 1024
_MAX_UPSCALE = 4.0
_TINY = 16
EDGE_PIXELS = 31
"""ORB finds no keypoint this close to the edge of the image it works on (its edge threshold)."""

_MAGIC = b"LF"
_VERSION = 1
_HEADER = struct.Struct("<2sBBIIH")
_FLAG_MIRRORED = 1
_COORD_MAX = 65535


@dataclass(frozen=True, eq=False)
class LocalFeatures:
    """Keypoints of one image: positions and binary descriptors."""

    width: int
    height: int
    """Size of the image the points refer to (the decoded image given to :func:`extract`)."""
    points: NDArray[np.float32]
    """(n, 2) pixel coordinates (x, y) in that image."""
    descriptors: NDArray[np.uint8]
    """(n, 32) ORB descriptors."""
    mirrored: bool = False
    """Descriptors were computed on the mirrored image (points are still in the image's frame)."""

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @cached_property
    def signs(self) -> tuple[NDArray[np.int8], NDArray[np.int32]]:
        """The descriptors as a query matches them (:func:`.hamming.signs`), made once for all
        the candidates it is matched with."""
        return hamming.signs(self.descriptors)

    def to_bytes(self) -> bytes:
        """Header, points as 16-bit normalised coordinates, then the descriptors (36 B/point)."""
        n = len(self)
        flags = _FLAG_MIRRORED if self.mirrored else 0
        head = _HEADER.pack(_MAGIC, _VERSION, flags, self.width, self.height, n)
        scale = np.array([_COORD_MAX / max(self.width, 1), _COORD_MAX / max(self.height, 1)])
        coords = np.clip(np.rint(self.points * scale), 0, _COORD_MAX).astype("<u2")
        return bytes(head + coords.tobytes() + np.ascontiguousarray(self.descriptors).tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        if len(data) < _HEADER.size:
            raise ValueError("local features: data too short")
        magic, version, flags, width, height, n = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise ValueError(f"local features: unknown format {magic!r} v{version}")
        expected = _HEADER.size + n * (4 + DESCRIPTOR_BYTES)
        if len(data) != expected:
            raise ValueError(f"local features: {len(data)} bytes, expected {expected}")
        offset = _HEADER.size
        coords = np.frombuffer(data, dtype="<u2", count=2 * n, offset=offset).reshape(n, 2)
        scale = np.array([max(width, 1) / _COORD_MAX, max(height, 1) / _COORD_MAX])
        points = (coords * scale).astype(np.float32)
        desc = np.frombuffer(data, dtype=np.uint8, offset=offset + 4 * n)
        desc = desc.reshape(n, DESCRIPTOR_BYTES).copy()
        return cls(width, height, points, desc, mirrored=bool(flags & _FLAG_MIRRORED))


def extract(image: Image.Image, *, max_points: int = INDEX_POINTS) -> LocalFeatures:
    """ORB keypoints of ``image`` as a record keeps them: ``max_points`` spread over the frame,
    then the grid's weak cells filled up to their share; deterministic, empty when featureless.

    The first pass keeps the strongest corners, so a plain region (a wall, the sky, a blurred
    background) holds few points, and a 20 % crop of it finds too few of its original's to
    verify. The fill adds that region's faint corners, described at the detection size (a crop,
    upscaled, meets them at a coarser level of its own pyramid): at most ``max_points`` more,
    about 60 on average over the copy benchmark's photos, for 3 ms an image. Their visual words
    count too: a plain crop's query, detected at a lower threshold, shares them
    (docs/duplicates.md)."""
    return _extract(image, max_points, mirrored=False, fill=True)[0]


def extract_mirrored(image: Image.Image, *, max_points: int = QUERY_POINTS) -> LocalFeatures:
    """Keypoints of the left-right mirror of ``image``, for finding flipped copies, filled as a
    query's own (:func:`extract_query`).

    Points stay in ``image``'s own frame, so a match's ``query_box`` is where the user sees it.
    """
    return _extract(image, max_points, mirrored=True, fill=True)[0]


def extract_query(image: Image.Image) -> tuple[LocalFeatures, LocalFeatures]:
    """A query's keypoints from one detection: :data:`QUERY_POINTS` of them to verify with, and
    the :data:`INDEX_POINTS` a record of the image would keep (spread the same way, from the
    same detections, before any fill), whose visual words are comparable with the records' own.

    The points to verify with are filled as a record's are (:func:`extract`): a caption or a
    web page's text takes the strongest corners of its cells and the first pass's threshold
    with them, so the plain parts of the picture beside it kept too few points to meet the
    record's fill there (docs/duplicates.md: a caption over a third of a wallpaper)."""
    many = _extract(image, QUERY_POINTS, mirrored=False, also=INDEX_POINTS, fill=True)
    return many[0], many[1]


def _extract(
    image: Image.Image,
    max_points: int,
    *,
    mirrored: bool,
    also: int | None = None,
    fill: bool = False,
) -> list[LocalFeatures]:
    """Keypoints of ``image``, ``max_points`` of them; with ``also``, a second set of that many
    spread from the same detections; with ``fill``, the first set's weak cells filled
    (:func:`_fill`)."""
    import cv2

    width, height = image.size
    counts = [max_points] if also is None else [max_points, also]
    if mirrored:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    gray, scale = work_image(image)
    if gray is None or max_points < 1:
        return [_empty(width, height, mirrored) for _ in counts]
    budget = max_points * _OVERSAMPLE
    keypoints: Sequence[cv2.KeyPoint] = ()
    descriptors = None
    threshold = _FAST_THRESHOLDS[0]
    for threshold in _FAST_THRESHOLDS:
        orb = cv2.ORB.create(nfeatures=budget, fastThreshold=threshold)
        keypoints, descriptors = orb.detectAndCompute(gray, None)
        if len(keypoints) >= budget // 2:
            break
    if descriptors is None or not keypoints:
        return [_empty(width, height, mirrored) for _ in counts]
    found = np.asarray(cv2.KeyPoint.convert(keypoints), dtype=np.float32).reshape(-1, 2)
    response = np.array([k.response for k in keypoints], dtype=np.float32)
    out = []
    for i, n in enumerate(counts):
        keep = _spread(found, response, gray.shape[1], gray.shape[0], n)
        kept, desc = found[keep], np.ascontiguousarray(descriptors[keep], dtype=np.uint8)
        if fill and i == 0:
            more, more_desc = _fill(gray, kept, n // _GRID**2, min(threshold, _FILL_FAST))
            kept, desc = np.vstack([kept, more]), np.vstack([desc, more_desc])
        points = kept / np.float32(scale)
        if mirrored:
            points[:, 0] = width - points[:, 0]
        out.append(LocalFeatures(width, height, points.astype(np.float32), desc, mirrored=mirrored))
    return out


def _fill(
    gray: NDArray[np.uint8], kept: NDArray[np.float32], share: int, threshold: int
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Points (at the detection size) and descriptors that bring each grid cell holding fewer
    than ``share`` of ``kept`` up to it: FAST corners at ``threshold``, strongest first, apart
    from the kept ones, oriented and described by ORB at the detection size alone (one level: a
    second full ORB pass cost twice as much for the same points)."""
    import cv2

    none = (np.zeros((0, 2), np.float32), np.zeros((0, DESCRIPTOR_BYTES), np.uint8))
    height, width = gray.shape
    counts = np.bincount(_cells(kept, width, height), minlength=_GRID * _GRID)
    weak = np.flatnonzero(counts < share)
    if share < 1 or len(weak) == 0:
        return none
    mask = np.zeros_like(gray)
    for index in weak:
        row, col = divmod(int(index), _GRID)
        rows = slice(row * height // _GRID, (row + 1) * height // _GRID)
        mask[rows, col * width // _GRID : (col + 1) * width // _GRID] = 255
    edge = EDGE_PIXELS + 1
    mask[:edge], mask[-edge:], mask[:, :edge], mask[:, -edge:] = 0, 0, 0, 0
    corners = cv2.FastFeatureDetector.create(threshold=threshold).detect(gray, mask)
    if not corners:
        return none
    found = np.asarray(cv2.KeyPoint.convert(corners), dtype=np.float32).reshape(-1, 2)
    response = np.array([k.response for k in corners], dtype=np.float32)
    cell = _cells(found, width, height)
    rank = _rank_in_cell(cell, response)
    head = np.flatnonzero(rank < 2 * share)  # enough to choose from once repeats are dropped
    found, response, cell = found[head], response[head], cell[head]
    if len(kept):
        nearest, _ = cv2.batchDistance(
            found, np.ascontiguousarray(kept, np.float32), cv2.CV_32F, normType=cv2.NORM_L2SQR, K=1
        )
        apart = nearest[:, 0] > _FILL_APART**2
        found, response, cell = found[apart], response[apart], cell[apart]
    chosen = np.flatnonzero(_rank_in_cell(cell, response) < share - counts[cell])
    if len(chosen) == 0:
        return none
    angles = _orientation(gray, found[chosen])
    keypoints = [
        cv2.KeyPoint(float(x), float(y), 31.0, float(a), float(r), 0)
        for (x, y), a, r in zip(found[chosen], angles, response[chosen], strict=True)
    ]
    described, desc = cv2.ORB.create().compute(gray, keypoints)
    if desc is None or not described:
        return none
    points = np.asarray(cv2.KeyPoint.convert(described), dtype=np.float32).reshape(-1, 2)
    return points, np.ascontiguousarray(desc, dtype=np.uint8)


def _orientation(gray: NDArray[np.uint8], points: NDArray[np.float32]) -> NDArray[np.float32]:
    """ORB's orientation (degrees) of each point: the direction of the intensity centroid of the
    disc around it, as ORB's own detection sets it."""
    r = _HALF_PATCH
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = (dx * dx + dy * dy) <= r * r
    at = np.rint(points).astype(np.intp)
    patches = gray[at[:, 1, None, None] + dy, at[:, 0, None, None] + dx] * disc
    m10 = (patches * dx).sum(axis=(1, 2), dtype=np.float64)
    m01 = (patches * dy).sum(axis=(1, 2), dtype=np.float64)
    return np.asarray(np.degrees(np.arctan2(m01, m10)) % 360.0, dtype=np.float32)


def work_image(image: Image.Image) -> tuple[NDArray[np.uint8] | None, float]:
    """Grayscale pixels at the detection size, and the factor from the image to them."""
    import cv2

    width, height = image.size
    if min(width, height) < _TINY:
        return None, 1.0
    scale = work_scale(width, height)
    gray = np.asarray(image.convert("L"))
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        method = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, size, interpolation=method)
    return np.ascontiguousarray(gray), scale


def work_scale(width: int, height: int) -> float:
    """The factor from an image of this size to the one keypoints are detected on."""
    if max(width, height) > _WORK_MAX_SIDE:
        return _WORK_MAX_SIDE / max(width, height)
    if min(width, height) < _WORK_MIN_SIDE:
        scale = min(_WORK_MIN_SIDE / min(width, height), _WORK_MAX_SIDE / max(width, height))
        return max(1.0, min(scale, _MAX_UPSCALE))
    return 1.0


def _spread(
    points: NDArray[np.float32], response: NDArray[np.float32], width: int, height: int, n: int
) -> NDArray[np.intp]:
    """Indices of the ``n`` keypoints taken round-robin over a grid, strongest first per cell."""
    if len(points) <= n:
        return np.arange(len(points))
    rank = _rank_in_cell(_cells(points, width, height), response)
    chosen = np.lexsort((-response, rank))[:n]
    return np.sort(chosen)


def _cells(points: NDArray[np.float32], width: int, height: int) -> NDArray[np.intp]:
    """The grid cell (row-major) each point lies in."""
    col = np.minimum((points[:, 0] * _GRID / width).astype(np.intp), _GRID - 1)
    row = np.minimum((points[:, 1] * _GRID / height).astype(np.intp), _GRID - 1)
    return np.asarray(row * _GRID + col, dtype=np.intp)


def _rank_in_cell(cell: NDArray[np.intp], response: NDArray[np.float32]) -> NDArray[np.intp]:
    """Each point's place among its cell's points, strongest first (0 for the strongest)."""
    order = np.lexsort((-response, cell))
    rank = np.empty(len(cell), dtype=np.intp)
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = np.arange(len(order)) - run_start
    return rank


def _empty(width: int, height: int, mirrored: bool) -> LocalFeatures:
    return LocalFeatures(
        width,
        height,
        np.zeros((0, 2), dtype=np.float32),
        np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8),
        mirrored=mirrored,
    )
