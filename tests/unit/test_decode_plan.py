"""The decode plan: one shared decode at the size the signals need, and an own copy, decoded
larger, for a signal that needs more pixels than the others (the text signal)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from lookalike.config import Settings
from lookalike.decode_workers import decode_plan, prepare
from lookalike.images import DecodedImage
from lookalike.signals.base import Signal


def _shorter_side(decoded: DecodedImage) -> int:
    return min(decoded.image.size)


class SizedSignal:
    """A signal whose preparer reports the shorter edge of the image it was given."""

    preparer = staticmethod(_shorter_side)

    def __init__(self, name: str, min_side: int, own_side: int | None = None) -> None:
        self.name = name
        self.min_side = min_side
        if own_side is not None:
            self.own_side = own_side


def _plan(*signals: Any) -> Any:
    listed: list[Signal] = list(signals)
    return decode_plan(listed, Settings(offline=True))


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buf, format="JPEG")
    return buf.getvalue()


def test_a_signal_with_its_own_size_gets_its_own_larger_copy() -> None:
    plan = _plan(SizedSignal("faces", 512), SizedSignal("text", 480, own_side=1024))
    assert plan.min_side == 512
    assert plan.own_sides == (("text", 1024),)
    out = prepare(plan, None, _jpeg(2400, 1800), "big.jpg")
    assert out.outputs == {"faces": 512, "text": 1024}
    assert (out.width, out.height) == (2400, 1800)


def test_one_decode_when_every_signal_has_its_own_size() -> None:
    plan = _plan(SizedSignal("text", 480, own_side=1024))
    assert plan.min_side == 1024 and plan.own_sides == ()
    assert prepare(plan, None, _jpeg(2400, 1800), "big.jpg").outputs == {"text": 1024}


def test_no_copy_when_the_shared_decode_is_already_large_enough() -> None:
    plan = _plan(SizedSignal("big", 1200), SizedSignal("text", 480, own_side=1024))
    assert plan.min_side == 1200 and plan.own_sides == ()


def test_a_small_image_is_not_enlarged_for_the_own_copy() -> None:
    plan = _plan(SizedSignal("faces", 512), SizedSignal("text", 480, own_side=1024))
    assert prepare(plan, None, _jpeg(800, 600), "small.jpg").outputs == {"faces": 512, "text": 600}
