"""Print showing through from the back of the sheet (thin paper, a duplex scan).

The back page's lines show as faint mirror-image print between the front's lines; the
detector finds them and the recogniser reads them as short garbage (`oitudito doua`,
`tud`, `10`) at confidences up to 0.97, which a page's text and confidence then carry.
Such a line is much fainter than the page's print, and it reads better mirrored than as
it stands; a faint line of the front's own (light grey print, a pale stamp) does not.
"""

from __future__ import annotations

import cv2
import numpy as np

from ocr.engine.recognition import Reading

# A line whose ink-to-paper contrast is under this share of the page's usual line
# contrast is faint enough to be the back page's print (measured on a probe: print
# showing through 0.17-0.24; the faintest real lines of the SROIE receipts 0.39).
SHOW_THROUGH_CONTRAST = 0.3
# The page's print contrast is this percentile of its lines' (not the median: on a page
# of thin paper, as many lines may be the back's as the front's).
USUAL_PERCENTILE = 75


def crop_contrast(crop: np.ndarray) -> float:
    """A line's ink-to-paper contrast in grey levels: the spread between its lightest and
    darkest 2% (either may be the ink)."""
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    if gray.size == 0:
        return 0.0
    low, high = np.percentile(gray, (2, 98))
    return float(high - low)


def faint_lines(crops: list[np.ndarray], readings: list[Reading]) -> list[int]:
    """The lines read with text whose contrast is under SHOW_THROUGH_CONTRAST of the
    page's (`usual_contrast`)."""
    read = [index for index, reading in enumerate(readings) if reading.text.strip()]
    if len(read) < 3:
        return []
    contrasts = {index: crop_contrast(crops[index]) for index in read}
    usual = float(np.percentile(list(contrasts.values()), USUAL_PERCENTILE))
    return [index for index in read if contrasts[index] < SHOW_THROUGH_CONTRAST * usual]


def shown_through(reading: Reading, mirrored: Reading) -> bool:
    """Whether a faint line is the back page's print: mirrored, it reads at least as well,
    and as letters (0, 1 and 8 read the same either way round: a faint "10" may be the
    page's own)."""
    letters = sum(char.isalpha() for char in mirrored.text)
    return letters >= 3 and mirrored.score >= reading.score


def usual_contrast(crops: list[np.ndarray], readings: list[Reading]) -> float:
    """The page's print contrast: the USUAL_PERCENTILE of its lines read with text (0
    with fewer than three)."""
    read = [crop_contrast(crop) for crop, r in zip(crops, readings, strict=True) if r.text.strip()]
    return float(np.percentile(read, USUAL_PERCENTILE)) if len(read) >= 3 else 0.0


# A page where at least this many lines were the back page's print has more of it, also
# where the detector joined it to the front's lines (a form's box holding a value and
# mirrored words beside it): such a page is read again with faint ink removed.
SHOW_THROUGH_LINES = 2
# Ink whose darkness (against the paper around it) is under this share of the page's line
# contrast is removed; above the second share it is kept as it is; between, it is faded
# (a hard cut would notch the anti-aliased edges of the front's letters).
SHOW_THROUGH_REMOVED = 0.35
SHOW_THROUGH_KEPT = 0.55


def show_through_removed(image: np.ndarray, contrast: float, line_height: float) -> np.ndarray:
    """The page (grey, as RGB) with ink fainter than SHOW_THROUGH_REMOVED of `contrast`
    turned to the paper around it. The paper is a grey closing over two line heights,
    made on a copy with lines about 8 px high, so a shadow or a tint is paper too."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    height, width = gray.shape
    factor = min(1.0, 8.0 / max(line_height, 1.0))
    small = cv2.resize(
        gray,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((17, 17), np.uint8))
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    paper = np.maximum(paper, gray).astype(np.float32)
    darkness = paper - gray
    low, high = SHOW_THROUGH_REMOVED * contrast, SHOW_THROUGH_KEPT * contrast
    kept = np.clip((darkness - low) / max(high - low, 1.0), 0.0, 1.0)
    cleaned = (paper - darkness * kept).astype(np.uint8)
    return cv2.cvtColor(cleaned, cv2.COLOR_GRAY2RGB)
