"""Copy detection through the engine: search, on-duplicate at ingest, whole-collection groups."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from lookalike import Engine, Settings
from lookalike.errors import BadInput
from lookalike.signals.duplicate.clusters import SAME_PICTURE_BITS, write_report
from lookalike.signals.duplicate.localfeatures import COPY_THRESHOLD
from lookalike.signals.duplicate.localfeatures.verification import MIN_INLIERS


def crop(src: Path, dst: Path, box: tuple[float, float, float, float], quality: int = 80) -> Path:
    im = Image.open(src).convert("RGB")
    w, h = im.size
    im.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h))).save(
        dst, quality=quality
    )
    return dst


def captioned(src: Path, dst: Path) -> Path:
    im = Image.open(src).convert("RGB").rotate(90, expand=True)
    ImageDraw.Draw(im).text((10, 10), "COPY OF A PHOTO", fill=(255, 255, 0))
    im.save(dst, quality=40)
    return dst


@pytest.fixture
def dup(engine: Engine, photos: Path):  # type: ignore[no-untyped-def]
    c = engine.create_collection("dup", signals="duplicate")
    assert c.index([photos]).indexed == len(list(photos.iterdir()))
    return c


def test_a_cropped_copy_finds_its_original_and_where(dup, photos: Path, tmp_path: Path) -> None:
    query = crop(photos / "coffee.jpg", tmp_path / "q.jpg", (0.5, 0.4, 0.95, 0.9))
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert top[0].id == "coffee.jpg" and top[0].score >= COPY_THRESHOLD
    match = top[0].match
    assert match is not None and match["inliers"] >= 10
    left, upper, right, lower = match["candidate_box"]
    assert 0.4 <= left and right <= 1.0 and 0.3 <= upper and lower <= 1.0
    assert all(r.score < COPY_THRESHOLD for r in top[1:])


def test_no_original_file_is_read_at_query_time(dup, photos: Path, tmp_path: Path) -> None:
    query = captioned(photos / "chelsea.jpg", tmp_path / "q.jpg")
    shutil.rmtree(photos)  # the indexed files are gone: only the store answers
    top = dup.search(image=query, signal="duplicate", top_k=1)
    assert top[0].id == "chelsea.jpg" and top[0].score >= COPY_THRESHOLD
    by_id = dup.search(id="chelsea.jpg", signal="duplicate", top_k=1)
    assert by_id[0].score < COPY_THRESHOLD


@pytest.mark.parametrize("mode", ["allow", "flag", "skip", "reject"])
def test_on_duplicate_modes(dup, photos: Path, tmp_path: Path, mode: str) -> None:
    new = tmp_path / "new"
    new.mkdir()
    crop(photos / "rocket.jpg", new / "rocket-crop.jpg", (0.1, 0.1, 0.9, 0.9), quality=50)
    crop(photos / "rocket.jpg", new / "rocket-crop2.jpg", (0.05, 0.05, 0.85, 0.95), quality=50)
    Image.new("RGB", (64, 64), (10, 200, 30)).save(new / "flat.png")
    before = dup.count()
    report = dup.index([new], on_duplicate=mode)
    copies = {"rocket-crop.jpg", "rocket-crop2.jpg"}
    if mode == "allow":
        assert report.indexed == 3 and not report.duplicates
    elif mode == "flag":
        assert report.indexed == 3
        assert {d.id for d in report.duplicates} == copies
        assert dup.get("rocket-crop.jpg")["duplicate_of"]["id"] == "rocket.jpg"
        flagged = dup.list_records(filter={"duplicate_of": {"$exists": True}})[0]
        assert {r["id"] for r in flagged} == copies
    elif mode == "skip":
        assert report.indexed == 1 and report.skipped == 2
        assert {d.duplicate_of for d in report.duplicates} == {"rocket.jpg"}
    else:
        assert report.indexed == 1 and {f.code for f in report.failed} == {"conflict"}
        assert all("rocket.jpg" in f.message for f in report.failed)
    assert dup.count() == before + report.indexed
    with pytest.raises(BadInput):
        dup.index([new], on_duplicate="maybe")


def test_grouping_finds_the_known_clusters(engine: Engine, photos: Path, tmp_path: Path) -> None:
    folder = tmp_path / "set"
    shutil.copytree(photos, folder)
    crop(photos / "astronaut.jpg", folder / "astronaut-crop.jpg", (0.2, 0.1, 0.9, 0.8))
    Image.open(photos / "astronaut.jpg").resize((200, 200)).save(folder / "astronaut-small.jpg")
    captioned(photos / "coffee.jpg", folder / "coffee-caption.jpg")
    c = engine.create_collection("g", signals="duplicate")
    c.index([folder])
    clusters = c.duplicates()
    found = sorted(sorted(m.id for m in cl.members) for cl in clusters)
    assert found == [
        ["astronaut-crop.jpg", "astronaut-small.jpg", "astronaut.jpg"],
        ["coffee-caption.jpg", "coffee.jpg"],
    ]
    by_keep = {cl.keep for cl in clusters}
    assert by_keep == {"astronaut.jpg", "coffee.jpg"}  # neither a crop nor a copy
    smallest = c.duplicates(keep="width:min")
    assert "astronaut-small.jpg" in {cl.keep for cl in smallest}
    with pytest.raises(BadInput):
        c.duplicates(keep="prettiest")

    write_report(clusters, tmp_path / "r.json", threshold=COPY_THRESHOLD, keep="largest")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["keep"] == "largest" and len(data["clusters"]) == 2
    assert sorted(data["clusters"][0]["copies"]) == ["astronaut-crop.jpg", "astronaut-small.jpg"]
    write_report(clusters, tmp_path / "r.csv", threshold=COPY_THRESHOLD, keep="largest")
    rows = list(csv.DictReader(open(tmp_path / "r.csv", encoding="utf-8")))
    assert len(rows) == 5 and {r["role"] for r in rows} == {"keep", "copy"}
    assert {r["cluster"] for r in rows} == {"1", "2"}
    assert rows[0]["linked_to"] and {"inliers", "hash_distance"} <= set(rows[0])
    members = {m["id"]: m for c in data["clusters"] for m in c["members"]}
    crop_link = members["astronaut-crop.jpg"]
    assert crop_link["inliers"] >= MIN_INLIERS  # a crop is linked by verified geometry
    small_link = members["astronaut-small.jpg"]
    assert small_link["inliers"] is not None or small_link["hash_distance"] <= SAME_PICTURE_BITS


def tricolour(colours: tuple[str, str, str], size: tuple[int, int] = (600, 400)) -> Image.Image:
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    w, h = size
    for n, colour in enumerate(colours):
        draw.rectangle((n * w // 3, 0, (n + 1) * w // 3, h), fill=colour)
    return im


def test_a_cluster_does_not_absorb_a_look_alike_graphic(engine: Engine, tmp_path: Path) -> None:
    """Two flags of three bands hash a few bits apart and have no keypoints to verify: they are
    different pictures, while a recompressed, resized copy of one is its duplicate."""
    folder = tmp_path / "flags"
    folder.mkdir()
    france = tricolour(("#0055a4", "#ffffff", "#ef4135"))
    france.save(folder / "france.png")
    france.resize((420, 280)).save(folder / "france-small.jpg", quality=60)
    france.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "france-flipped.png")
    tricolour(("#009246", "#ffffff", "#ce2b37")).save(folder / "italy.png")
    tricolour(("#000000", "#dd0000", "#ffce00")).save(folder / "belgium-like.png")
    c = engine.create_collection("flags", signals="duplicate")
    assert c.index([folder]).indexed == 5
    clusters = c.duplicates()
    assert [sorted(m.id for m in cl.members) for cl in clusters] == [
        ["france-flipped.png", "france-small.jpg", "france.png"]
    ]
    copy = next(m for m in clusters[0].members if m.id == "france-small.jpg")
    assert copy.hash_distance is not None and copy.hash_distance <= SAME_PICTURE_BITS
    assert copy.linked_to in {"france.png", "france-flipped.png"}


def test_a_flat_graphic_searched_with_its_own_file_finds_itself(
    engine: Engine, tmp_path: Path
) -> None:
    """A flag's DCT terms are zero but for rounding, and so is their median: the stored hash and
    the query's must not follow the rounding (they did, 22 to 29 bits apart, and most of these
    flags ranked below another image when searched with their own file); and a flag of the same
    layout in other colours, which the grey-level hash cannot tell apart, is no copy."""
    folder = tmp_path / "flags"
    folder.mkdir()
    colours = ("#ce1126", "#ffffff", "#003893", "#007a3d", "#fcd116", "#000000", "#ff8200")
    for n in range(8):
        picks = [colours[(n + k * 3) % len(colours)] for k in range(3)]
        flag = tricolour(tuple(picks))  # type: ignore[arg-type]
        if n % 2:
            flag = flag.transpose(Image.Transpose.ROTATE_90).resize((600, 400))
        flag.save(folder / f"flag-{n}.png")
    c = engine.create_collection("flags", signals="duplicate")
    assert c.index([folder]).indexed == 8
    for path in sorted(folder.iterdir()):
        top = c.search(image=path, signal="duplicate", top_k=2)
        assert top[0].id == path.name and top[0].score == 1.0, (path.name, top[0])
        # another flag of the same layout hashes alike; its colours keep it under the threshold
        assert top[1].score < COPY_THRESHOLD, (path.name, top[1])


def test_stopping_at_a_certain_match_keeps_the_answer(dup, photos: Path, tmp_path: Path) -> None:
    """Verification stops once a candidate is certain: the first answer, its score and its
    matched region are what verifying every candidate gives."""
    from lookalike.images import decode
    from lookalike.signals.duplicate.copies import find_copies, image_copy_query
    from lookalike.signals.duplicate.signal import DuplicateSignal

    signal = DuplicateSignal()
    Image.open(photos / "coffee.jpg").convert("RGB").save(tmp_path / "re.jpg", quality=30)
    flipped = Image.open(photos / "chelsea.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    flipped.convert("RGB").save(tmp_path / "flip.jpg", quality=70)
    queries = {
        "coffee.jpg": tmp_path / "re.jpg",
        "chelsea.jpg": tmp_path / "flip.jpg",
        "astronaut.jpg": captioned(photos / "astronaut.jpg", tmp_path / "cap.jpg"),
    }
    for original, path in queries.items():
        decoded = decode(path.read_bytes(), min_side=signal.min_side)
        query = image_copy_query(decoded)
        fast = find_copies(dup.store, query, limit=3)
        full = find_copies(dup.store, query, limit=3, early_exit=False, likely_only=False)
        assert fast[0].id == full[0].id == original
        assert fast[0].score == full[0].score >= COPY_THRESHOLD
        assert fast[0].match == full[0].match
        assert all(r.score < COPY_THRESHOLD for r in fast[1:])


def test_verification_goes_where_the_evidence_points(
    dup, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query without copies matches keypoints with a few likely candidates only, not every
    neighbour, and never with its mirrored keypoints; a flipped copy is matched mirrored, and
    its answer is the one verifying every candidate both ways gives."""
    from lookalike.images import decode
    from lookalike.signals.duplicate import copies
    from lookalike.signals.duplicate.copies import MORE_WORDS, find_copies, image_copy_query

    matched: list[bool] = []
    real = copies.verify

    def counting(query, candidate):  # type: ignore[no-untyped-def]
        matched.append(query.mirrored)
        return real(query, candidate)

    monkeypatch.setattr(copies, "verify", counting)
    unrelated = Image.new("RGB", (640, 480), (30, 90, 160))
    draw = ImageDraw.Draw(unrelated)
    for i in range(0, 640, 40):
        draw.ellipse((i, (i * 7) % 400, i + 30, (i * 7) % 400 + 30), fill=(240, 200, i % 255))
    unrelated.save(tmp_path / "new.jpg", quality=90)
    query = image_copy_query(decode((tmp_path / "new.jpg").read_bytes(), min_side=512))
    every = find_copies(dup.store, query, limit=3, early_exit=False, likely_only=False)
    assert all(r.score < COPY_THRESHOLD for r in every)
    matched.clear()
    hits = find_copies(dup.store, query, limit=3)
    assert all(r.score < COPY_THRESHOLD for r in hits)
    # the word neighbours (the first few, then the others as none was a copy), the nearest hash
    assert 0 < len(matched) <= MORE_WORDS + 1
    assert not any(matched)  # words are of the image as given: never matched mirrored

    flipped = Image.open(photos / "chelsea.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    flipped.convert("RGB").save(tmp_path / "flip.jpg", quality=85)
    query = image_copy_query(decode((tmp_path / "flip.jpg").read_bytes(), min_side=512))
    matched.clear()
    fast = find_copies(dup.store, query, limit=3)
    assert True in matched and len(matched) <= 2  # the flip's hash neighbour, mirrored
    full = find_copies(dup.store, query, limit=3, early_exit=False, likely_only=False)
    assert fast[0].id == full[0].id == "chelsea.jpg" and fast[0].match == full[0].match
    assert fast[0].match is not None and fast[0].match.mirrored


def test_a_crop_whose_original_is_not_a_likely_candidate_is_found_in_a_second_round(
    dup, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the likely candidates hold no copy, the other visual-word neighbours are verified:
    a small crop's original is often among them, past the first few (here made unlikely by
    rank: no word neighbour is likely, and no hash)."""
    from lookalike.signals.duplicate import copies

    query = crop(photos / "coffee.jpg", tmp_path / "q.jpg", (0.5, 0.45, 0.95, 0.9))
    monkeypatch.setattr(copies, "FIRST_WORDS", 0)
    monkeypatch.setattr(copies, "HASH_FLOOR", 2.0)  # not even the nearest hash is likely
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert top[0].id == "coffee.jpg" and top[0].score >= COPY_THRESHOLD
    assert top[0].match is not None
    more = copies.MORE_WORDS
    monkeypatch.setattr(copies, "MORE_WORDS", 0)  # no second round
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert all(r.score < COPY_THRESHOLD for r in top)

    monkeypatch.setattr(copies, "MORE_WORDS", more)  # back, and the round off by the setting
    settings = Settings(data_dir=tmp_path / "off", offline=True, copy_second_round=False)
    with Engine(settings) as off:
        c = off.create_collection("dup", signals="duplicate")
        c.index([photos])
        top = c.search(image=query, signal="duplicate", top_k=3)
        assert all(r.score < COPY_THRESHOLD for r in top)


def test_a_crop_of_a_repeating_pattern_ranks_its_original_first_by_its_words(
    dup, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chessboard's squares look alike, so the descriptor ratio test drops the true matches
    of a crop of it and nothing verifies; its visual words single the board out among the
    photos, which then ranks first, below a copy's score (it is not called a copy)."""
    from skimage import data

    from lookalike.signals.duplicate import copies

    board = Image.fromarray(data.checkerboard()).convert("RGB")
    board.resize((480, 480), Image.Resampling.NEAREST).save(photos / "board.jpg", quality=90)
    assert dup.index([photos]).indexed == 1
    query = crop(photos / "board.jpg", tmp_path / "q.jpg", (0.5, 0.05, 0.95, 0.5))  # 20 %
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert top[0].id == "board.jpg" and top[0].match is None
    assert top[0].score == copies.WORD_LEAD_SCORE < COPY_THRESHOLD
    assert all(r.score < copies.WORD_LEAD_SCORE for r in top[1:])
    assert dup.search(image=query, signal="duplicate", threshold=COPY_THRESHOLD) == []

    monkeypatch.setattr(copies, "WORD_LEAD", float("inf"))  # the words single nothing out
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert top[0].id != "board.jpg"


def big_caption(src: Path, dst: Path) -> Path:
    """A meme's captions over a large part of the picture: a line of white letters outlined in
    black across its middle, and an opaque band over its bottom third holding two more lines."""
    from PIL import ImageFont

    im = Image.open(src).convert("RGB")
    w, h = im.size
    draw = ImageDraw.Draw(im)
    text = "WHEN THE ROCKET FINALLY LAUNCHES"
    size = min(int(40 * 0.85 * w / ImageFont.load_default(size=40).getbbox(text)[2]), h // 6)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text, stroke_width=max(1, size // 12))
    at = ((w - (right - left)) // 2 - left, (h - (bottom - top)) // 2 - top)
    draw.text(
        at, text, font=font, fill="white", stroke_width=max(1, size // 12), stroke_fill="black"
    )
    band = round(h / 3)
    draw.rectangle((0, h - band, w, h), fill=(40, 110, 200))
    font = ImageFont.load_default(size=band // 3)
    for line, words in enumerate(("NOBODY:", "ABSOLUTELY NOBODY:")):
        draw.text(
            (w // 20, h - band + band // 8 + line * (band // 2)), words, font=font, fill="white"
        )
    im.save(dst, quality=75)
    return dst


def test_a_copy_under_captions_over_a_large_part_of_it_is_a_copy(
    dup, photos: Path, tmp_path: Path
) -> None:
    """The captions' letters take the strongest corners of the query's cells; the query's fill
    gives the plain sky beside them the points the record's fill has there (without it, no
    inlier at all here)."""
    query = big_caption(photos / "rocket.jpg", tmp_path / "q.jpg")
    top = dup.search(image=query, signal="duplicate", top_k=3)
    assert top[0].id == "rocket.jpg" and top[0].score >= COPY_THRESHOLD
    assert all(r.score < COPY_THRESHOLD for r in top[1:])
