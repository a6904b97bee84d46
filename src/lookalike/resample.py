"""Bicubic downscaling as a horizontal pass, then a vertical one, which two threads can share.

Pillow resizes in the same two passes, but picks their order itself (since Pillow 13 some tall
images go vertical first, and the pixels differ where a pass clips), so the same bytes could be
indexed by one Pillow and queried by another with other pixels. :func:`resize` always runs the
horizontal pass first, each pass a call of Pillow's own filter in one direction: the decode and
the CLIP input get the same pixels in every process (a server, a job's workers, a Ray worker),
equal to Pillow's single call wherever that runs horizontal first (every landscape photo).

A one-way pass treats each row (or column) alone, so with ``split`` each pass is cut in two
halves, one for a helper thread: a single query on two idle cores resizes in about half the
time, to the same pixels. A half the helper has not started when the caller finishes its own is
taken back and done on the calling thread, so a busy helper never makes a query wait."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PIL import Image

from lookalike.priority import BackgroundPool

__all__ = ["resize"]

REDUCING_GAP = 2.0
"""Downscales of this factor squared or more start with Pillow's integer reduce (its
``reducing_gap``): they take Pillow's single call, whose first step that is."""

_SPLIT_PIXELS = 60_000
"""Below this many pixels in a pass's output, a helper thread costs more than it saves."""

_BICUBIC = Image.Resampling.BICUBIC


def resize(image: Image.Image, size: tuple[int, int], *, split: bool = False) -> Image.Image:
    """``image`` (RGB or L) resized to ``size`` (width, height) by Pillow's bicubic filter, the
    horizontal pass first; ``split``: each pass shared with a helper thread."""
    w, h = image.size
    width, height = size
    if (w, h) == (width, height):
        return image.copy()
    if (
        image.mode not in ("RGB", "L")
        or int(w / width / REDUCING_GAP) > 1
        or int(h / height / REDUCING_GAP) > 1
    ):
        return image.resize(size, _BICUBIC, reducing_gap=REDUCING_GAP)
    image.load()  # once, here: the halves read it from two threads
    out = image
    if width != w:
        out = _pass(out, (width, h), split)
    if height != h:
        out = _pass(out, (width, height), split)
    return out


def _pass(image: Image.Image, size: tuple[int, int], split: bool) -> Image.Image:
    """One pass: the width or the height changes, not both."""
    width, height = size
    if not split or width * height < _SPLIT_PIXELS or min(width, height) < 2:
        return image.resize(size, _BICUBIC)  # (a line of pixels has no two halves)
    w, h = image.size
    out = Image.new(image.mode, size)
    if width != w:  # horizontal: rows are independent, so halves of rows
        cut = h // 2
        top, bottom = _halves(
            lambda: image.crop((0, 0, w, cut)).resize((width, cut), _BICUBIC),
            lambda: image.crop((0, cut, w, h)).resize((width, h - cut), _BICUBIC),
        )
        out.paste(top, (0, 0))
        out.paste(bottom, (0, cut))
    else:  # vertical: columns are independent, so halves of columns
        cut = w // 2
        left, right = _halves(
            lambda: image.crop((0, 0, cut, h)).resize((cut, height), _BICUBIC),
            lambda: image.crop((cut, 0, w, h)).resize((w - cut, height), _BICUBIC),
        )
        out.paste(left, (0, 0))
        out.paste(right, (cut, 0))
    return out


def _halves(
    first: Callable[[], Image.Image], second: Callable[[], Image.Image]
) -> tuple[Image.Image, Image.Image]:
    """``first()`` here and ``second()`` on the helper, or here too if it has not started."""
    future = _helper().submit(second)
    a = first()
    b = second() if future.cancel() else future.result()
    return a, b


@cache
def _helper() -> BackgroundPool:
    """Two threads: enough for two queries resizing at once on the cores a server has; more
    would only queue on them. Pillow's passes release the interpreter lock."""
    return BackgroundPool(2, thread_name_prefix="resize-half")
