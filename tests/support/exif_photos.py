"""Sample photos with known EXIF, as JPEG bytes: photo i was taken with camera i (Canon or
FUJIFILM, model Mi) on June (i+1) 2021 at 09:00, 45 N 6 E and ~1 km further north each."""

from __future__ import annotations

from PIL import ExifTags, Image

from tests.support.encoded import encode
from tests.support.samples import photo


def exif_jpeg(name: str, i: int) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon" if i % 2 else "FUJIFILM", f"M{i}", 1
    exif.get_ifd(ExifTags.IFD.Exif)[0x9003] = f"2021:06:{i + 1:02d} 09:00:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.update({1: "N", 2: (45.0, 0.0, 0.0 + i * 1000 / 30.87), 3: "E", 4: (6.0, 0.0, 0.0)})
    return encode(photo(name), "JPEG", quality=90, exif=exif)
