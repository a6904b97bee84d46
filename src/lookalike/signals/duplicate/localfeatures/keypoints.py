"""ORB keypoints of one image, spread over the frame, and their compact byte form."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

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
    """ORB keypoints of ``image`` spread over the frame; deterministic, empty when featureless."""
    return _extract(image, max_points, mirrored=False)[0]


def extract_mirrored(image: Image.Image, *, max_points: int = QUERY_POINTS) -> LocalFeatures:
    """Keypoints of the left-right mirror of ``image``, for finding flipped copies.

    Points stay in ``image``'s own frame, so a match's ``query_box`` is where the user sees it.
    """
    return _extract(image, max_points, mirrored=True)[0]


def extract_query(image: Image.Image) -> tuple[LocalFeatures, LocalFeatures]:
    """A query's keypoints from one detection: :data:`QUERY_POINTS` of them to verify with, and
    the :data:`INDEX_POINTS` a record of the image would keep (spread the same way, from the
    same detections), whose visual words are comparable with the records' own."""
    many = _extract(image, QUERY_POINTS, mirrored=False, also=INDEX_POINTS)
    return many[0], many[1]


def _extract(
    image: Image.Image, max_points: int, *, mirrored: bool, also: int | None = None
) -> list[LocalFeatures]:
    """Keypoints of ``image``, ``max_points`` of them; with ``also``, a second set of that many
    spread from the same detections."""
    import cv2

    width, height = image.size
    counts = [max_points] if also is None else [max_points, also]
    if mirrored:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    gray, scale = _work_image(image)
    if gray is None or max_points < 1:
        return [_empty(width, height, mirrored) for _ in counts]
    budget = max_points * _OVERSAMPLE
    keypoints: Sequence[cv2.KeyPoint] = ()
    descriptors = None
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
    for n in counts:
        keep = _spread(found, response, gray.shape[1], gray.shape[0], n)
        points = found[keep] / np.float32(scale)
        if mirrored:
            points[:, 0] = width - points[:, 0]
        desc = np.ascontiguousarray(descriptors[keep], dtype=np.uint8)
        out.append(LocalFeatures(width, height, points.astype(np.float32), desc, mirrored=mirrored))
    return out


def _work_image(image: Image.Image) -> tuple[NDArray[np.uint8] | None, float]:
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
    col = np.minimum((points[:, 0] * _GRID / width).astype(np.intp), _GRID - 1)
    row = np.minimum((points[:, 1] * _GRID / height).astype(np.intp), _GRID - 1)
    cell = row * _GRID + col
    order = np.lexsort((-response, cell))
    rank = np.empty(len(points), dtype=np.intp)
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank[order] = np.arange(len(order)) - run_start
    chosen = np.lexsort((-response, rank))[:n]
    return np.sort(chosen)


def _empty(width: int, height: int, mirrored: bool) -> LocalFeatures:
    return LocalFeatures(
        width,
        height,
        np.zeros((0, 2), dtype=np.float32),
        np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8),
        mirrored=mirrored,
    )
