"""Local features: ORB keypoints, geometric verification and visual words for copy detection.

A copy that was cropped, rotated, recompressed or captioned keeps many small patches of its
original unchanged, up to a geometric transform. :func:`extract` finds those patches (ORB
keypoints, 32-byte binary descriptors) once per image at ingest; :func:`verify` matches a query's
keypoints against a candidate's and fits a transform with RANSAC, so a copy is confirmed by many
matches agreeing on one geometry while unrelated images agree on at most a handful.

Choices, measured on scikit-image's photos under the copy transforms of
``tests/integration/test_verification.py`` (2 cores):

- ORB over SIFT: SIFT extracts 8.5x slower at the same budget (88 against 10 ms a record) and
  its 128-byte descriptors make 4x larger records; binary descriptors also hash directly into
  visual words. Beside ORB it would verify more of the smallest crops, not enough of them to
  pay (benchmarks/sift_crops.py, docs/duplicates.md).
  (AKAZE is not in opencv-python-headless 5.x at all.)
- Keypoints are detected at 4x the budget and kept round-robin over a 4x4 grid, so a caption or a
  logo cannot take them all and a heavy crop still finds points of its region in the original.
- Index records keep :data:`INDEX_POINTS` points, then the faint corners of the grid's weak
  cells (about 60 more: ~20 KB), so that a crop of a plain region finds its original's points;
  queries use :data:`QUERY_POINTS`, which costs nothing stored and recovers 20 % crops and
  captioned copies, filled the same way (a large caption no longer leaves the plain picture
  beside it without points).
- Matches: Lowe's ratio test (0.8), then one match per candidate point; the nearest two
  descriptors of every query point come from one integer matrix product (:mod:`.hamming`).
  The geometry is a similarity (rotation, scale, shift) fitted by RANSAC, refined to a
  homography on its inliers when that keeps at least as many. A homography fitted directly
  (MAGSAC) collapsed onto degenerate maps for unrelated pairs and missed 20 % crops that the
  2-point similarity finds; perspective-warped copies still verify through the refinement.
- Score: distinct inliers through :data:`CALIBRATION`.

Flips are not seen by ORB: the query side also extracts :func:`extract_mirrored` and verifies
both, keeping the better match (its :attr:`Match.mirrored` tells which).
"""

from lookalike.signals.duplicate.localfeatures.keypoints import (
    INDEX_POINTS,
    MIN_SIDE,
    QUERY_POINTS,
    LocalFeatures,
    extract,
    extract_mirrored,
    extract_query,
)
from lookalike.signals.duplicate.localfeatures.verification import (
    CALIBRATION,
    COPY_THRESHOLD,
    Match,
    verify,
)
from lookalike.signals.duplicate.localfeatures.words import visual_words

__all__ = [
    "CALIBRATION",
    "COPY_THRESHOLD",
    "INDEX_POINTS",
    "MIN_SIDE",
    "QUERY_POINTS",
    "LocalFeatures",
    "Match",
    "extract",
    "extract_mirrored",
    "extract_query",
    "verify",
    "visual_words",
]
