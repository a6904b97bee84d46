"""The framing measure: the part of one image outside another's mapped picture, fill or picture."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from lookalike.signals.duplicate.framing import FLAT, PICTURE, judge, remainder_density
from lookalike.signals.duplicate.localfeatures import LocalFeatures, Match, extract
from tests.support.samples import photo


def _features(width: int, height: int, points: np.ndarray) -> LocalFeatures:
    descriptors = np.zeros((len(points), 32), np.uint8)
    return LocalFeatures(width, height, points.astype(np.float32), descriptors)


def _grid(left: float, top: float, right: float, bottom: float, step: float) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(left, right, step), np.arange(top, bottom, step))
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _match(corners: list[tuple[float, float]]) -> Match:
    return Match(0.9, 40, (0, 0, 1, 1), (0, 0, 1, 1), candidate_corners=corners)


INNER = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
"""The inner picture mapped into the middle quarter of the outer frame."""


def test_a_remainder_without_keypoints_is_fill() -> None:
    inner = _features(500, 500, _grid(40, 40, 460, 460, 20))
    outer = _features(1000, 1000, _grid(250, 250, 750, 750, 10))
    density = remainder_density(inner, outer, _match(INNER))
    assert density is not None and density < FLAT


def test_a_remainder_as_textured_as_the_picture_is_picture() -> None:
    inner = _features(500, 500, _grid(40, 40, 460, 460, 20))
    outer = _features(1000, 1000, _grid(0, 0, 1000, 1000, 10))
    density = remainder_density(inner, outer, _match(INNER))
    assert density is not None and density >= PICTURE
    assert density == pytest.approx(1.0, abs=0.15)


def test_no_remainder_or_no_points_decides_nothing() -> None:
    inner = _features(500, 500, _grid(40, 40, 460, 460, 20))
    outer = _features(1000, 1000, _grid(0, 0, 1000, 1000, 10))
    whole = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert remainder_density(inner, outer, _match(whole)) is None
    beyond = [(-0.1, -0.1), (1.1, -0.1), (1.1, 1.1), (-0.1, 1.1)]
    assert remainder_density(inner, outer, _match(beyond)) is None
    bare = _features(1000, 1000, np.zeros((0, 2)))
    assert remainder_density(inner, bare, _match(INNER)) is None


def test_a_rotated_picture_leaves_its_filled_corners_as_the_remainder() -> None:
    """Rotated with expand: the picture touches every edge, the four corners are fill."""
    angle = np.radians(10)
    w, h = 800, 600
    cw = w * np.cos(angle) + h * np.sin(angle)
    ch = w * np.sin(angle) + h * np.cos(angle)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]]) - (w / 2, h / 2)
    quad = corners @ rotation.T + (cw / 2, ch / 2)
    points = _grid(20, 20, w - 20, h - 20, 12)
    inside = (points - (w / 2, h / 2)) @ rotation.T + (cw / 2, ch / 2)
    inner = _features(w, h, points)
    outer = _features(round(cw), round(ch), inside)
    match = _match([(float(x) / cw, float(y) / ch) for x, y in quad])
    density = remainder_density(inner, outer, match)
    assert density is not None and density < FLAT


def test_judge_tells_a_bordered_copy_and_a_crop_from_their_photo() -> None:
    original = photo("astronaut")
    w, h = original.size
    bordered = ImageOps.expand(original, (w // 5, h // 5), fill=(255, 255, 255))
    crop = original.crop((w // 5, h // 5, w * 4 // 5, h * 4 // 5)).resize((w, h))
    features = {
        "original": extract(original),
        "bordered": extract(bordered),
        "crop": extract(crop, max_points=512),
    }
    framed, cropped = judge(features)
    assert framed == {"bordered": "original"}
    assert cropped.get("crop") in {"original", "bordered"}
    assert "original" not in framed and "original" not in cropped


def test_judge_says_nothing_of_copies_that_do_not_verify() -> None:
    a = photo("coffee")
    b = Image.new("RGB", a.size, (128, 128, 128))
    assert judge({"a": extract(a), "b": extract(b)}) == ({}, {})
