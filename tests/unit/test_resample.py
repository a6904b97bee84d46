"""The decode's and the CLIP input's bicubic resize: a horizontal pass, then a vertical one,
the same pixels whether a helper thread shares the passes or not."""

from __future__ import annotations

import io
import random
import threading

import numpy as np
import pytest
from PIL import Image

from lookalike import resample
from lookalike.images import decode
from lookalike.resample import resize
from tests.support.samples import PHOTO_NAMES, photo

BICUBIC = Image.Resampling.BICUBIC


def _noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """Uniform noise: bicubic overshoots clip on most pixels, so a pass order or a coefficient
    that differs shows on many of them."""
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return Image.fromarray(pixels, mode)


def _shortest_to(width: int, height: int, side: int) -> tuple[int, int]:
    if width <= height:
        return side, max(1, round(height * side / width))
    return max(1, round(width * side / height)), side


def _sizes(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    """Random downscales of the decode's kind (the shorter edge to a side), landscape and tall,
    under the factor where Pillow's reduce takes over."""
    rng = random.Random(seed)
    out: list[tuple[int, int, int, int]] = []
    while len(out) < count:
        w, h = rng.randint(60, 1400), rng.randint(60, 1400)
        side = rng.choice([512, 336, 224, 100])
        if min(w, h) <= side:
            continue
        width, height = _shortest_to(w, h, side)
        if w / width >= 4 or h / height >= 4:
            continue
        out.append((w, h, width, height))
    return out


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_split_and_serial_give_the_same_pixels(mode: str) -> None:
    for i, (w, h, width, height) in enumerate(_sizes(40, seed=1)):
        image = _noise(w, h, mode, seed=i)
        serial = np.asarray(resize(image, (width, height)))
        split = np.asarray(resize(image, (width, height), split=True))
        assert serial.shape == ((height, width, 3) if mode == "RGB" else (height, width))
        assert np.array_equal(serial, split), (w, h, width, height)


def test_the_horizontal_pass_comes_first_whatever_the_shape() -> None:
    """The result is Pillow's horizontal resize followed by its vertical one, for tall images
    too (for some of which Pillow's single call runs the vertical pass first)."""
    for i, (w, h, width, height) in enumerate(_sizes(40, seed=2)):
        image = _noise(w, h, seed=i)
        two_passes = image.resize((width, h), BICUBIC).resize((width, height), BICUBIC)
        assert np.array_equal(np.asarray(resize(image, (width, height))), np.asarray(two_passes))


def test_a_landscape_photo_gets_what_pillows_single_call_gives() -> None:
    """Records indexed before this resize (by Pillow's single call) keep their pixels."""
    landscape = [p for p in map(photo, PHOTO_NAMES) if p.width > p.height]
    assert len(landscape) >= 3
    for image in landscape:
        for side in (224, 160, 100):
            size = _shortest_to(*image.size, side)
            single = image.resize(size, BICUBIC, reducing_gap=resample.REDUCING_GAP)
            assert np.array_equal(np.asarray(resize(image, size)), np.asarray(single))


def test_large_downscales_start_with_pillows_reduce() -> None:
    image = _noise(2400, 1800)
    size = (400, 300)
    expected = image.resize(size, BICUBIC, reducing_gap=resample.REDUCING_GAP)
    assert np.array_equal(np.asarray(resize(image, size, split=True)), np.asarray(expected))


def test_same_size_is_a_copy_and_small_passes_are_not_split() -> None:
    image = _noise(64, 48)
    same = resize(image, (64, 48), split=True)
    assert same is not image and np.array_equal(np.asarray(same), np.asarray(image))
    assert resize(image, (32, 24), split=True).size == (32, 24)
    line = _noise(1, 80_000, "L")  # many pixels, but one column: nothing to cut in two
    thin = resize(line, (1, 70_000), split=True)
    assert np.array_equal(np.asarray(thin), np.asarray(resize(line, (1, 70_000))))


def test_a_busy_helper_never_holds_a_split_resize() -> None:
    """With both helper threads blocked, a split resize takes its second halves back and
    finishes on the calling thread, with the same pixels."""
    release = threading.Event()
    started = [threading.Event(), threading.Event()]
    helper = resample._helper()
    blockers = [helper.submit(lambda e=e: (e.set(), release.wait(30))) for e in started]
    try:
        for event in started:
            assert event.wait(10)
        image = _noise(900, 600)
        done: list[Image.Image] = []
        worker = threading.Thread(target=lambda: done.append(resize(image, (768, 512), split=True)))
        worker.start()
        worker.join(10)
        assert done, "the split resize waited for the blocked helper"
        assert np.array_equal(np.asarray(done[0]), np.asarray(resize(image, (768, 512))))
    finally:
        release.set()
        for blocker in blockers:
            blocker.result(10)


def test_a_split_decode_gives_the_pixels_of_a_serial_one() -> None:
    for name in PHOTO_NAMES[:3]:
        image = photo(name)
        for turned in (image, image.transpose(Image.Transpose.ROTATE_90)):
            buffer = io.BytesIO()
            turned.save(buffer, "JPEG", quality=90)
            data = buffer.getvalue()
            serial = decode(data, min_side=224)
            split = decode(data, min_side=224, split=True)
            assert split.image.size == serial.image.size and min(serial.image.size) == 224
            assert np.array_equal(np.asarray(split.image), np.asarray(serial.image))
