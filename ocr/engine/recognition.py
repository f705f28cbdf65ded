"""The recogniser's side of a line: its input (a crop brought to 48 px high, normalised
and padded) and its output (greedy CTC decoding, with word spaces read from the ink gaps
the model glosses over). Used by `ocr.engine.rapid.RapidRecognizer`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

REC_MIN_WIDTH = 160
REC_HEIGHT = 48
# On a page whose lines' median crop is lower than this, crops lower than this are enlarged
# bilinearly instead: from a few pixels, the area rule enlarges into blocks (in effect
# nearest-neighbour), and letters 6-10 px high (a scan at 70-100 dpi) are misread (`fex`,
# `aver`, `HEMBER`). Judged by the page, not the crop: on a page of ordinary print, a
# sliver box turned on its side read as `I I` when enlarged bilinearly.
REC_AREA_MIN_HEIGHT = 16


def rec_input(crop: np.ndarray, *, small_print: bool = False) -> np.ndarray | None:
    """A line crop brought to the recogniser's 48-pixel height, aspect kept.

    Area interpolation, also when enlarging: most receipt lines are 20-40 px high, and
    OpenCV's area rule enlarges with sharper edges than bilinear, which keeps faint
    points and colons visible (word-F1 0.899 -> 0.904 on the SROIE receipts; bilinear,
    bicubic, Lanczos and nearest were all worse). With `small_print` (the page's median
    crop is under REC_AREA_MIN_HEIGHT px), crops under that height are enlarged
    bilinearly: on low-resolution receipts and pages word-F1 0.847 -> 0.881, the corpus's
    receipts unchanged.
    """
    height, width = crop.shape[:2]
    if height < 1 or width < 1:
        return None
    # RapidOCR's rounding: the ceiling, unless that passes the (floored) padded width.
    resized = min(
        max(REC_MIN_WIDTH, int(REC_HEIGHT * width / height)), math.ceil(REC_HEIGHT * width / height)
    )
    small = small_print and height < REC_AREA_MIN_HEIGHT
    interpolation = cv2.INTER_LINEAR if small else cv2.INTER_AREA
    return cv2.resize(crop, (max(1, resized), REC_HEIGHT), interpolation=interpolation)


def rec_normalise(line: np.ndarray) -> np.ndarray:
    """The recogniser's input tensor: [-1, 1], padded right (with 0) to REC_MIN_WIDTH."""
    height, width = line.shape[:2]
    padded = max(REC_MIN_WIDTH, width)
    tensor = np.zeros((1, 3, height, padded), dtype=np.float32)
    tensor[0, :, :, :width] = line.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0
    return tensor


REC_STRIDE = 8  # input pixels per output frame of the recogniser
SPACE_GAP = 0.45  # a blank this wide (x the 48-px line height) between two letters...
SPACE_GAP_RATIO = 3.0  # ...and this many times the line's usual letter gap is a space


class Reading(NamedTuple):
    """A line as read: its text, the recogniser's score, and the share of its ink read.

    `read` is 1.0 when every stretch of ink lies near a decoded character. The model
    emits nothing (blank frames) over letters it has no class for (Cyrillic, Greek,
    Arabic... to the bundled Latin/Chinese model), so a line of them decodes to a few
    digits and punctuation, each read with a high score: the score alone says nothing
    of what was skipped.
    """

    text: str
    score: float
    read: float = 1.0


# Ink further than this (x the 48-px line height) from every decoded character's frames
# was not read: a letter's ink lies within about one letter width of its CTC spike.
READ_REACH = 0.5


def ctc_decode(preds: np.ndarray, characters: list[str], ink: np.ndarray | None = None) -> Reading:
    """Greedy CTC: best class per frame, repeats merged, blanks (class 0) dropped.

    The score is the mean probability of the kept frames, as RapidOCR computes it. With
    `ink` (the line's ink columns, `ink_columns`), spaces the recogniser left out where
    the pixels show a word-sized gap are put back (`spaces_from_gaps`), and the share of
    the ink read is measured (`ink_read_share`).
    """
    best = preds.argmax(axis=1)
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    keep &= best != 0
    if not keep.any():
        return Reading("", 0.0, 0.0 if ink is not None and ink.any() else 1.0)
    score = float(preds[np.arange(len(best)), best][keep].mean())
    if ink is None:
        return Reading("".join(characters[index] for index in best[keep]), score)
    # Each kept frame starts a run of its class; the run ends where the class changes.
    changes = np.append(np.flatnonzero(best[1:] != best[:-1]), len(best) - 1)
    pieces = [
        (characters[best[first]], int(first), int(changes[np.searchsorted(changes, first)]))
        for first in np.flatnonzero(keep)
    ]
    return Reading(spaces_from_gaps(pieces, ink), score, ink_read_share(pieces, ink))


def ink_read_share(pieces: list[tuple[str, int, int]], ink: np.ndarray) -> float:
    """The share of a line's ink columns within reach of a decoded (non-space) character."""
    total = int(ink.sum())
    if total == 0:
        return 1.0
    reach = int(READ_REACH * REC_HEIGHT)
    near = np.zeros(len(ink) + 1, dtype=np.int32)
    for char, first, last in pieces:
        if char == " ":
            continue
        start = max(0, first * REC_STRIDE - reach)
        stop = min(len(ink), (last + 1) * REC_STRIDE + reach)
        if start < stop:
            near[start] += 1
            near[stop] -= 1
    covered = np.cumsum(near[:-1]) > 0
    return float((ink & covered).sum()) / total


def spaces_from_gaps(pieces: list[tuple[str, int, int]], ink: np.ndarray) -> str:
    """The text of CTC pieces (character, first frame, last frame), with missed spaces.

    The recogniser often runs words together where the print has a clear gap
    ("TIME:15:28:00", "TEL:" read against a far-off colon). Between two letters it
    joined, the widest run of ink-free columns is measured; when it is at least
    SPACE_GAP of the line height and SPACE_GAP_RATIO times the median gap between the
    line's joined letters (so wide-set or monospaced print is not split), a space goes
    in. Spaces the recogniser did read are kept.
    """
    letters: list[tuple[str, int, int, bool]] = []
    spaced = False
    for char, first, last in pieces:
        if char == " ":
            spaced = True
            continue
        letters.append((char, first, last, spaced and bool(letters)))
        spaced = False
    if len(letters) < 2:
        return "".join(letter[0] for letter in letters)
    starts = np.array([int((a[1] + 0.5) * REC_STRIDE) for a in letters[:-1]])
    stops = np.array([int((b[2] + 0.5) * REC_STRIDE) for b in letters[1:]])
    gaps = _blank_runs(ink, starts, stops).tolist()
    joined = [gap for gap, letter in zip(gaps, letters[1:], strict=True) if not letter[3]]
    usual = max(float(np.median(joined)) if joined else 0.0, 1.0)
    wide = max(SPACE_GAP * REC_HEIGHT, SPACE_GAP_RATIO * usual)
    out = [letters[0][0]]
    for (char, _, _, spaced_before), gap in zip(letters[1:], gaps, strict=True):
        if spaced_before or gap >= wide:
            out.append(" ")
        out.append(char)
    return "".join(out)


def _blank_runs(ink: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """For each span ink[start:stop], the longest run of ink-free columns inside it."""
    edges = np.flatnonzero(np.diff(np.concatenate(([True], ink, [True])).astype(np.int8)))
    run_starts, run_stops = edges[::2], edges[1::2]  # the blank runs of the whole line
    if run_starts.size == 0:
        return np.zeros(len(starts), dtype=int)
    overlap = np.minimum(run_stops[None, :], stops[:, None]) - np.maximum(
        run_starts[None, :], np.maximum(starts, 0)[:, None]
    )
    return np.maximum(overlap, 0).max(axis=1)


def ink_columns(line: np.ndarray) -> np.ndarray:
    """Which columns of a line image hold ink, within its text band.

    Otsu binarisation (light print on a dark ground is inverted: ink is the minority),
    specks under 3 pixels dropped, and only the rows carrying at least a fifth of the
    busiest row's ink, so bits of the lines above and below do not bridge the gaps.
    """
    gray = cv2.cvtColor(line, cv2.COLOR_RGB2GRAY) if line.ndim == 3 else line
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = binary == 0
    if ink.mean() > 0.5:
        ink = ~ink
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= 3
    keep[0] = False
    ink = keep[labels]
    rows = ink.sum(axis=1)
    if not rows.any():
        return np.zeros(ink.shape[1], dtype=bool)
    band = np.flatnonzero(rows >= 0.2 * rows.max())
    return ink[band[0] : band[-1] + 1].any(axis=0)
