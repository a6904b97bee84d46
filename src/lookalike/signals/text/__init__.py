"""The text signal: the text inside images, read by OCR and searched by keywords.

- :mod:`.signal`: OCR at ingest, lines and boxes kept, words indexed as a sparse vector;
- :mod:`.keywords`: the word rules and BM25 vectors, the same for indexed text and queries;
- :mod:`.matches`: a text query's candidates scored by the share of its words they hold.
"""

from lookalike.signals.text.signal import CALIBRATION, MIN_SIDE, TextSignal, prepare

__all__ = ["CALIBRATION", "MIN_SIDE", "TextSignal", "prepare"]
