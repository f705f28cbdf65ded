"""The RapidOCR recogniser: PP-OCRv6 small detection and recognition, run our way.

Only the model files inside the rapidocr wheel are used (paths given explicitly, so
rapidocr never reaches for its downloader). Instead of RapidOCR's one-size pipeline:
- detection runs on a copy scaled to a bounded size, recognition crops come from the
  sharper working image;
- orientation is decided once per page (vertical boxes -> turn 90 degrees; a vote of the
  direction classifier over a sample of lines -> turn 180) instead of classifying
  every line;
- recognition runs one line at a time on our own input preparation (area-resized to
  48 px high, padded to 160 px) and greedy CTC decoding.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from ocr.engine.recognition import (
    REC_AREA_MIN_HEIGHT,
    Reading,
    ctc_decode,
    ink_columns,
    rec_input,
    rec_normalise,
)
from ocr.engine.showthrough import (
    SHOW_THROUGH_LINES,
    faint_lines,
    show_through_removed,
    shown_through,
    usual_contrast,
)
from ocr.engine.tasks import Line

DET_MAX_SIDE = 2000
DET_MIN_SIDE = 736
TEXT_SCORE = 0.5
# Detector boxes are kept from a mean text probability of DET_BOX_SCORE (RapidOCR: 0.5),
# which admits lone short fields ("1", "A"), whose boxes are mostly margin; a box under
# DET_BOX_SURE must then be read with a confidence of WEAK_BOX_TEXT_SCORE, which keeps out
# the specks and rules that low threshold also lets in.
DET_BOX_SCORE = 0.4
DET_BOX_SURE = 0.5
WEAK_BOX_TEXT_SCORE = 0.9
DET_TEXT_HEIGHT = 16.0
DET_MAX_PIXELS = 1_600_000
# The detector's memory grows with its input's area (~270 bytes a pixel): a larger input
# runs as bands of at most DET_BAND_PIXELS, each with DET_BAND_MARGIN px of context on
# either side, whose probability maps are stitched (a worker's peak stays near 500 MiB).
DET_BAND_PIXELS = 800_000
DET_BAND_MARGIN = 96
# A detector input (or band) with no edge of this many grey levels in any colour channel
# holds no ink: the model, seeing no text anywhere, fills its map with specks of noise
# (over a thousand on a blank band, crowding real lines out of RapidOCR's 1000
# candidates), or with one blob over half of it on coloured or shaded paper, so such an
# input is given an empty map without running the model. Edges are measured across
# DET_BLANK_REACH pixels: a blurred letter's edge is that wide, a shadow's is far wider.
DET_BLANK_LEVELS = 32
DET_BLANK_REACH = 5
REC_BATCH = 1
# The 180-degree vote: pieces of the widest lines, a few a line, each no wider than the
# classifier's own input shape (192x48 px) allows without squeezing the letters.
CLS_PIECES = 24
# A detector box whose crop holds a blank run this many crop heights wide (a word space
# is ~0.3) has bridged a gutter between two columns: it is read as two lines.
GUTTER_SPLIT = 1.2
CLS_PIECES_PER_LINE = 3
CLS_PIECE_ASPECT = 3.5
# A page whose lines lean by more than this (degrees), measured on at least SKEW_MIN_LINES
# wide lines, is laid out in its straightened frame; below it, plain boxes already give
# the reading order (and a straight page's boxes lean by up to ~0.6 degrees at random).
SKEW_MIN_DEG = 1.0
SKEW_MIN_LINES = 3
# A sure detector box whose ink is read for less than this share, with no text at all,
# is reported as an unread line.
UNREAD_LINE = 0.5
# The detector sees nothing on a large input that is nearly all blank paper (its map
# stays under 0.001 around a word on an A4 page): ink that no box covers is looked for
# again in windows around it, at most INK_WINDOWS of them; a page with more uncovered
# blobs of ink than that is busy, not sparse, and is left as detected.
INK_WINDOWS = 12
INK_CONTRAST = 48  # grey levels darker than the local paper
INK_MAP_SIDE = 1000  # the ink map is made at most this many pixels on its long side
INK_BLOB_MAX_HEIGHT = 60  # on the ink map: taller blobs are pictures or frames, not words
# Small print on a large page: the pixel cap shrinks 7 px letters (Pillow's 10 px default
# font on A4 at 300 dpi) to ~3 px, where the detector joins the lines into one block and
# almost nothing is read. When the cap left the print under DET_SMALL_GLYPH px and boxes
# of a line's height hold under SMALL_PRINT_COVER of the page's ink, the page is detected
# again with the print at DET_SMALL_PRINT_HEIGHT px (at most DET_SMALL_PRINT_PIXELS, run in
# DET_BAND_PIXELS bands like any large input, so memory stays bounded).
DET_SMALL_GLYPH = 4.5
DET_SMALL_PRINT_HEIGHT = 7.0
DET_SMALL_PRINT_PIXELS = 6_000_000
SMALL_PRINT_COVER = 0.5


def model_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


MODEL_FILES = {
    "det": "PP-OCRv6_det_small.onnx",
    "rec": "PP-OCRv6_rec_small.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


def rapidocr_params(threads: int) -> dict:
    """RapidOCR parameters pinning the bundled models and the thread cap."""
    models = model_dir()
    return {
        "Global.log_level": "warning",
        "Det.model_path": str(models / MODEL_FILES["det"]),
        "Cls.model_path": str(models / MODEL_FILES["cls"]),
        "Rec.model_path": str(models / MODEL_FILES["rec"]),
        "EngineConfig.onnxruntime.intra_op_num_threads": threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }


def _session(filename: str, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(model_dir() / filename), sess_options=options, providers=["CPUExecutionProvider"]
    )


# A page whose darkest ink is lighter than this is faint (a faded thermal receipt, a
# pencil note): its grey range is stretched before detection and recognition.
FAINT_INK_LEVEL = 110


def faint_stretched(image: np.ndarray) -> np.ndarray:
    """The page with its ink-to-paper range stretched to black-to-white, when even its
    darkest ink is light grey; any other page unchanged.

    The detector missed whole lines of a faded thermal receipt (ink 175 on paper 215: 34
    of 41 boxes). The test is the darkest ink (the 0.2th percentile of a subsample), not
    the spread of all pixels: a page of sparse black text on white paper has a narrow
    spread too, and stretching its paper noise would ruin it.
    """
    sample = image[::3, ::3]
    dark, paper = np.percentile(sample, (0.2, 60))
    if dark <= FAINT_INK_LEVEL or paper - dark < 12:
        return image  # dark enough ink, or a blank page
    scale = 255.0 / (paper - dark)
    stretched = (image.astype(np.float32) - dark) * scale
    return np.clip(stretched, 0, 255).astype(np.uint8)


class RapidRecognizer:
    def __init__(self, *, threads: int = 1) -> None:
        from rapidocr import RapidOCR

        for name in MODEL_FILES.values():
            if not (model_dir() / name).exists():
                raise RuntimeError(f"RapidOCR model {name} is missing from the wheel")
        engine = RapidOCR(params=rapidocr_params(threads))
        cfg = engine.cfg
        from rapidocr.ch_ppocr_cls import TextClassifier
        from rapidocr.ch_ppocr_det import TextDetector
        from rapidocr.ch_ppocr_rec import TextRecognizer

        ort = cfg.EngineConfig.onnxruntime
        cfg.Det.engine_cfg = ort
        # We size the detector input ourselves; "max" with a huge limit only rounds to 32.
        cfg.Det.limit_type = "max"
        cfg.Det.limit_side_len = 100_000
        cfg.Det.box_thresh = DET_BOX_SCORE
        cfg.Cls.engine_cfg = ort
        cfg.Rec.engine_cfg = ort
        cfg.Rec.rec_batch_num = REC_BATCH
        cfg.Rec.font_path = None
        cfg.Det.model_root_dir = cfg.Cls.model_root_dir = cfg.Rec.model_root_dir = str(model_dir())
        self.det = TextDetector(cfg.Det)
        self.cls = TextClassifier(cfg.Cls)
        self.rec = TextRecognizer(cfg.Rec)
        # Our own sessions: no spin-waiting (on a busy host, spinning threads steal the
        # CPU their siblings need: 4x slower under load in our measurements), and one
        # thread for the many small recogniser calls, the cap for the detector.
        self.det.session.session = _session(MODEL_FILES["det"], threads)
        self.cls.session.session = _session(MODEL_FILES["cls"], 1)
        self.rec.session.session = _session(MODEL_FILES["rec"], 1)
        self.threads = max(1, threads)
        self._pool = None

    # -- detection ---------------------------------------------------------------

    def _detect_page(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`_detect` on the page, then again in windows around ink no box covers (a word
        or two on an otherwise blank page, which the detector misses on the whole page)."""
        glyph = glyph_height(image) if DET_TEXT_HEIGHT else None
        boxes, scores = self._detect(image, glyph=glyph or 0.0)  # 0: no print size found
        if glyph and small_print_missed(image, boxes, glyph):
            boxes, scores = self._detect(
                image,
                glyph=glyph,
                text_height=DET_SMALL_PRINT_HEIGHT,
                max_pixels=DET_SMALL_PRINT_PIXELS,
            )
        windows = uncovered_ink_windows(image, boxes)
        if not windows:
            return boxes, scores
        found, found_scores = list(boxes), list(scores)
        for (x0, y0, x1, y1), glyph in windows:
            window = np.ascontiguousarray(image[y0:y1, x0:x1])
            more, more_scores = self._detect(window, glyph=glyph)
            more = more + np.array([x0, y0], dtype=np.float32)
            for box, score in zip(more, more_scores, strict=True):
                # A window's margin may take in part of a line already found.
                if not any(_overlapping(box, other) for other in found):
                    found.append(box)
                    found_scores.append(score)
        if len(found) == len(boxes):
            return boxes, scores
        boxes = np.asarray(found, dtype=np.float32)
        scores = np.asarray(found_scores, dtype=np.float32)
        order = _reading_order(boxes)
        return boxes[order], scores[order]

    def _detect(
        self,
        image: np.ndarray,
        glyph: float | None = None,
        *,
        text_height: float = DET_TEXT_HEIGHT,
        max_pixels: int = DET_MAX_PIXELS,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Text boxes in `image` coordinates, in reading order, and their detector scores
        (`glyph`: the print's height when known, else estimated). The detector sees the
        print at `text_height` px within its side and pixel caps; past `max_pixels`, only
        the pixel cap (small print the caps would shrink below legibility)."""
        height, width = image.shape[:2]
        scale = min(1.0, DET_MAX_SIDE / max(height, width))
        if min(height, width) * scale < DET_MIN_SIDE:
            scale = min(DET_MIN_SIDE / min(height, width), DET_MAX_SIDE / max(height, width))
        if glyph is None and DET_TEXT_HEIGHT:
            glyph = glyph_height(image)
        if glyph:
            # Size the detector's input by the text, not the paper: small print gets
            # enlarged, large print shrunk, so the work follows what there is to read.
            scale = min(max(DET_TEXT_HEIGHT / glyph, 0.2), 2.5, DET_MAX_SIDE / max(height, width))
            scale = max(scale, 160 / min(height, width))
        if max_pixels > DET_MAX_PIXELS and glyph:
            scale = text_height / glyph
        # Detector memory grows with its input's area; this keeps a worker under ~700 MiB.
        scale = min(scale, (max_pixels / (height * width)) ** 0.5)
        det_input = image
        if abs(scale - 1.0) > 0.01:
            det_input = cv2.resize(
                image,
                (max(32, round(width * scale)), max(32, round(height * scale))),
                interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
            )
        # RapidOCR's TextDetector.__call__, keeping each box's score with it.
        tensor = _det_tensor(det_input)
        found, scores = self.det.postprocess_op(
            det_banded(self.det.session, tensor), det_input.shape[:2]
        )
        if len(found) == 0:
            return np.zeros((0, 4, 2), dtype=np.float32), np.zeros(0, dtype=np.float32)
        found = np.asarray(found, dtype=np.float32)
        order = _reading_order(found)
        boxes = (found[order] / scale).astype(np.float32)
        return boxes, np.asarray(scores, dtype=np.float32)[order]

    @staticmethod
    def _mostly_vertical(boxes: np.ndarray) -> bool:
        if len(boxes) < 2:
            return False
        widths = np.linalg.norm(boxes[:, 1] - boxes[:, 0], axis=1)
        heights = np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=1)
        tall = heights > widths * 1.5
        wide = widths > heights * 1.5
        return int(tall.sum()) > int(wide.sum()) * 2

    def _upside_down(self, crops: list[np.ndarray]) -> bool:
        """A vote of the direction classifier over pieces of the widest lines of the page."""
        pieces = _orientation_pieces(crops)
        if not pieces:
            return False
        result = self.cls(pieces)
        flipped = sum(1 for label, score in result.cls_res if "180" in label and score > 0.7)
        upright = sum(1 for label, score in result.cls_res if "180" not in label and score > 0.7)
        return flipped > upright

    # -- the page ----------------------------------------------------------------

    def read(self, image: np.ndarray, *, show_through: bool = True) -> tuple[list[Line], int]:
        """Lines in `image` coordinates, and the clockwise turn (0/90/180/270) applied.

        Lines with empty text are ink the recogniser could not read (see `Reading`):
        they count in the page's confidence and nowhere else. With `show_through`, a
        page showing its back page's print is read again without it.
        """
        image = faint_stretched(image)
        turn = 0
        boxes, box_scores = self._detect_page(image)
        if self._mostly_vertical(boxes):
            image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
            turn = 270
            boxes, box_scores = self._detect_page(image)
        crops = [_crop(image, box) for box in boxes]
        if self._upside_down(crops):
            image = cv2.rotate(image, cv2.ROTATE_180)
            turn = (turn + 180) % 360
            height, width = image.shape[:2]
            # The boxes of a half-turned page are the same boxes, mirrored.
            boxes = np.stack([width - boxes[:, :, 0], height - boxes[:, :, 1]], axis=2)[
                :, [2, 3, 0, 1]
            ]
            crops = [np.ascontiguousarray(crop[::-1, ::-1]) for crop in crops]
        if not crops:
            return [], turn
        boxes, box_scores, crops = split_at_gutters(boxes, box_scores, crops)
        rec = self.rec_lines(crops)
        shown = 0
        for index in faint_lines(crops, rec):
            mirrored = self._rec_one(np.ascontiguousarray(crops[index][:, ::-1]), _small(crops))
            if shown_through(rec[index], mirrored):
                rec[index] = Reading("", 0.0)  # the back page's print, not this page's
                shown += 1
        if show_through and shown >= SHOW_THROUGH_LINES:
            heights = [crop.shape[0] for crop, r in zip(crops, rec, strict=True) if r.text]
            contrast = usual_contrast(crops, rec)
            cleaned = show_through_removed(image, contrast, float(np.median(heights)))
            del crops, image  # not held while the page is read again
            lines, more = self.read(cleaned, show_through=False)
            return lines, (turn + more) % 360
        frames = straightened_boxes(boxes)
        lines = []
        for index, (box, box_score, (text, score, read)) in enumerate(
            zip(boxes, box_scores, rec, strict=True)
        ):
            text = text.strip()
            xs, ys = box[:, 0], box[:, 1]
            if not text and box_score >= DET_BOX_SURE and read < UNREAD_LINE:
                # A sure line of ink with nothing decoded: letters the model has no class
                # for. It adds no text, but counts against the page's confidence.
                lines.append(
                    Line(
                        text="",
                        box=(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())),
                        confidence=0.0,
                    )
                )
                continue
            if not text or score < TEXT_SCORE:
                continue
            if box_score < DET_BOX_SURE and score < WEAK_BOX_TEXT_SCORE:
                continue
            lines.append(
                Line(
                    text=text,
                    box=(float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())),
                    # What was skipped lowers the confidence, not the text kept.
                    confidence=float(score * read),
                    frame=frames[index] if frames is not None else None,
                )
            )
        return lines, turn

    def rec_lines(self, crops: list[np.ndarray]) -> list[Reading]:
        small = _small(crops)
        if self.threads < 2 or len(crops) < 4:
            return [self._rec_one(crop, small) for crop in crops]
        # Lines are independent: several single-threaded recogniser calls side by side
        # use the cores far better than intra-op threads on such small inputs.
        shares = [list(range(start, len(crops), self.threads)) for start in range(self.threads)]

        def read_share(indices: list[int]) -> list[Reading]:
            return [self._rec_one(crops[i], small) for i in indices]

        out: list[Reading] = [Reading("", 0.0)] * len(crops)
        for indices, texts in zip(shares, self._executor().map(read_share, shares), strict=True):
            for index, text in zip(indices, texts, strict=True):
                out[index] = text
        return out

    def _rec_one(self, crop: np.ndarray, small_print: bool = False) -> Reading:
        """One line through the recogniser: our input preparation, greedy CTC decoding."""
        line = rec_input(crop, small_print=small_print)
        if line is None:
            return Reading("", 0.0)
        preds = self.rec.session(rec_normalise(line))[0]
        return ctc_decode(preds, self.rec.postprocess_op.character, ink=ink_columns(line))

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="rec")
        return self._pool


def _small(crops: list[np.ndarray]) -> bool:
    """Small print: the page's lines (crops twice as wide as high, not slivers and specks)
    are under REC_AREA_MIN_HEIGHT px high, by their median."""
    heights = [c.shape[0] for c in crops if c.shape[1] >= 2 * c.shape[0]]
    return bool(heights) and bool(np.median(heights) < REC_AREA_MIN_HEIGHT)


def uncovered_ink_windows(
    image: np.ndarray, boxes: np.ndarray
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Windows (x0, y0, x1, y1) around blobs of ink that no detector box touches, each with
    the height of its lowest blob (which sizes the detector's input: guessed from a few
    letters, it blew a small window up to 1.6 MP), or none when there are more than
    INK_WINDOWS of them.

    Ink is what is INK_CONTRAST levels darker than the paper around it (a grey closing,
    so a shadow or a tinted page is paper too), on a copy at most INK_MAP_SIDE px long;
    letters are joined into words; specks, rules and blobs taller than INK_BLOB_MAX_HEIGHT
    dropped. Each window is its blob with a margin of twice the blob's height, so the
    detector sees a word on a little paper.
    """
    height, width = image.shape[:2]
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    factor = min(1.0, INK_MAP_SIDE / max(height, width))
    small = gray
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    ink = ((paper.astype(np.int16) - small) > INK_CONTRAST).astype(np.uint8)
    if not ink.any():
        return []
    ink = cv2.dilate(ink, np.ones((3, 7), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    covered = np.zeros(small.shape, dtype=bool)
    for box in boxes * factor:
        x0, y0 = np.floor(box.min(axis=0)).astype(int)
        x1, y1 = np.ceil(box.max(axis=0)).astype(int)
        covered[max(0, y0) : max(0, y1) + 1, max(0, x0) : max(0, x1) + 1] = True
    windows = []
    for x, y, w, h, area in stats[1:]:
        if area < 12 or not 4 <= h <= INK_BLOB_MAX_HEIGHT or w > 25 * h:
            continue  # a speck, a picture or a frame, a rule
        if covered[y : y + h, x : x + w].any():
            continue
        margin = 2 * h
        rect = (
            max(0, int((x - margin) / factor)),
            max(0, int((y - margin) / factor)),
            min(width, int((x + w + margin) / factor) + 1),
            min(height, int((y + h + margin) / factor) + 1),
        )
        windows.append((rect, max(4.0, (h - 2) / factor)))  # the dilation adds 2 rows
        if len(windows) > INK_WINDOWS:
            return []
    return _merged(windows)


def small_print_missed(image: np.ndarray, boxes: np.ndarray, glyph: float) -> bool:
    """Whether the detector's pixel cap shrank the print (`glyph` px high) below
    DET_SMALL_GLYPH px, and boxes no taller than three print heights (lines, not blocks of
    lines run together) hold under SMALL_PRINT_COVER of the page's ink."""
    height, width = image.shape[:2]
    if glyph * (DET_MAX_PIXELS / (height * width)) ** 0.5 >= DET_SMALL_GLYPH:
        return False
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    _, binary = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = int(binary.sum())
    if not ink:
        return False
    covered = np.zeros(binary.shape, dtype=bool)
    for box in boxes:
        x0, y0 = np.floor(box.min(axis=0)).astype(int)
        x1, y1 = np.ceil(box.max(axis=0)).astype(int)
        if y1 - y0 <= 3 * glyph:
            covered[max(0, y0) : max(0, y1) + 1, max(0, x0) : max(0, x1) + 1] = True
    return int(binary[covered].sum()) < SMALL_PRINT_COVER * ink


def _merged(
    rects: list[tuple[tuple[int, int, int, int], float]],
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Overlapping rectangles joined until none overlap (keeping the lower glyph height)."""
    rects = list(rects)
    joined = True
    while joined:
        joined = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                (a, glyph_a), (b, glyph_b) = rects[i], rects[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    rects[i] = (
                        (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])),
                        min(glyph_a, glyph_b),
                    )
                    del rects[j]
                    joined = True
                    break
            if joined:
                break
    return rects


def _overlapping(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two boxes' extents share more than a third of the smaller one's area."""
    (ax0, ay0), (ax1, ay1) = a.min(axis=0), a.max(axis=0)
    (bx0, by0), (bx1, by1) = b.min(axis=0), b.max(axis=0)
    shared = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    return shared > smaller / 3


def split_at_gutters(
    boxes: np.ndarray, scores: np.ndarray, crops: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Boxes cut where their crop is blank for GUTTER_SPLIT heights or more."""
    out_boxes, out_scores, out_crops = [], [], []
    for box, score, crop in zip(boxes, scores, crops, strict=True):
        height, width = crop.shape[:2]
        spans = _ink_spans(crop, min_gap=max(4, round(GUTTER_SPLIT * height)))
        if len(spans) < 2:
            out_boxes.append(box)
            out_scores.append(score)
            out_crops.append(crop)
            continue
        margin = max(1, round(0.15 * height))
        top, bottom = box[1] - box[0], box[2] - box[3]  # along the top and bottom edges
        for start, stop in spans:
            start, stop = max(0, start - margin), min(width, stop + margin)
            a, b = start / width, stop / width
            out_boxes.append(
                np.array(
                    [box[0] + a * top, box[0] + b * top, box[3] + b * bottom, box[3] + a * bottom],
                    dtype=np.float32,
                )
            )
            out_scores.append(score)
            out_crops.append(np.ascontiguousarray(crop[:, start:stop]))
    return np.asarray(out_boxes, dtype=np.float32), np.asarray(out_scores), out_crops


def _ink_spans(crop: np.ndarray, *, min_gap: int) -> list[tuple[int, int]]:
    """The stretches of a line's ink separated by blank runs of at least min_gap columns."""
    columns = np.flatnonzero(ink_columns(crop))
    if columns.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(columns) > min_gap)
    starts = np.concatenate(([columns[0]], columns[breaks + 1]))
    stops = np.concatenate((columns[breaks] + 1, [columns[-1] + 1]))
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _orientation_pieces(crops: list[np.ndarray]) -> list[np.ndarray]:
    """Up to CLS_PIECES pieces of the widest lines, each at most CLS_PIECE_ASPECT times as
    wide as high. The classifier squeezes its input into 192x48 px: a whole line of a
    page (40:1) would reach it squashed to illegibility and be voted on at random."""
    order = sorted(range(len(crops)), key=lambda i: -crops[i].shape[1])
    pieces: list[np.ndarray] = []
    for index in order:
        crop = crops[index]
        height, width = crop.shape[:2]
        if height < 4 or width < 4:
            continue
        piece = max(height, round(height * CLS_PIECE_ASPECT))
        count = min(CLS_PIECES_PER_LINE, max(1, width // piece))
        starts = np.linspace(0, max(0, width - piece), count).round().astype(int)
        pieces.extend(np.ascontiguousarray(crop[:, start : start + piece]) for start in starts)
        if len(pieces) >= CLS_PIECES:
            break
    return pieces[:CLS_PIECES]


def glyph_height(image: np.ndarray) -> float | None:
    """Median height of glyph-like dark blobs: a cheap estimate of the print size."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count < 12:
        return None
    widths, heights, areas = stats[1:, 2], stats[1:, 3], stats[1:, 4]
    glyphs = (heights >= 4) & (heights <= 300) & (widths <= heights * 2) & (areas >= 6)
    if glyphs.sum() < 10:
        return None
    return float(np.median(heights[glyphs]))


def _det_tensor(image: np.ndarray) -> np.ndarray:
    """The detector's input: sides rounded to multiples of 32, scaled to [-1, 1].

    RapidOCR's DetPreProcess computes the same in float64 (mean/std 0.5 arrays): a
    quarter of a second of CPU per ten receipts and a 40 MB temporary at 1.6 MP.
    """
    height, width = image.shape[:2]
    size = (max(32, round(width / 32) * 32), max(32, round(height / 32) * 32))
    resized = cv2.resize(image, size) if size != (width, height) else image
    tensor = resized.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
    tensor *= 1 / 127.5
    tensor -= 1.0
    return tensor


def det_banded(model, tensor: np.ndarray) -> np.ndarray:
    """model(tensor) -> (1, 1, H, W), computed as bands across the longer side of at most
    DET_BAND_PIXELS each (sides stay multiples of 32), each run with DET_BAND_MARGIN px of
    the page beyond it on both sides and only its own rows (or columns) kept."""
    height, width = tensor.shape[2:]
    if height * width <= DET_BAND_PIXELS:
        return _det_unless_blank(model, tensor)
    axis = 2 if height >= width else 3  # bands across the longer side
    length = tensor.shape[axis]
    count = math.ceil(height * width / DET_BAND_PIXELS)
    step = math.ceil(length / count / 32) * 32
    out = np.empty((1, 1, height, width), dtype=np.float32)
    for start in range(0, length, step):
        stop = min(length, start + step)
        lo, hi = max(0, start - DET_BAND_MARGIN), min(length, stop + DET_BAND_MARGIN)
        band = _det_unless_blank(model, np.ascontiguousarray(_along(tensor, axis, lo, hi)))
        _along(out, axis, start, stop)[...] = _along(band, axis, start - lo, stop - lo)
    return out


def _det_unless_blank(model, tensor: np.ndarray) -> np.ndarray:
    if det_input_blank(tensor):
        return np.zeros((1, 1, *tensor.shape[2:]), dtype=np.float32)
    return model(tensor)


def det_input_blank(tensor: np.ndarray) -> bool:
    """Whether a detector input (1, 3, H, W) in [-1, 1] is paper only: no channel has an
    edge of DET_BLANK_LEVELS grey levels within DET_BLANK_REACH pixels.

    The span of all its values was the test, which the blank lower half of a page on
    yellow paper (channels 250/225/150 apart) or under a phone's shadow gradient passed:
    the model ran on it, filled half the band with one blob of "text", and the table
    above came back empty.
    """
    if float(tensor.max() - tensor.min()) * 127.5 < DET_BLANK_LEVELS:
        return True
    kernel = np.ones((DET_BLANK_REACH, DET_BLANK_REACH), np.uint8)
    for channel in tensor[0]:
        edges = cv2.morphologyEx(channel, cv2.MORPH_GRADIENT, kernel)
        if float(edges.max()) * 127.5 >= DET_BLANK_LEVELS:
            return False
    return True


def _along(array: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def page_skew(boxes: np.ndarray) -> float:
    """The page's skew in radians (positive: lines rise to the left, y grows downwards),
    the median slope of the top edges of its clearly wide boxes; 0 with too few of them."""
    top = boxes[:, 1] - boxes[:, 0]  # top-left to top-right corner
    widths = np.hypot(top[:, 0], top[:, 1])
    heights = np.linalg.norm(boxes[:, 3] - boxes[:, 0], axis=1)
    wide = widths > heights * 3
    if int(wide.sum()) < SKEW_MIN_LINES:
        return 0.0
    return float(np.median(np.arctan2(top[wide, 1], top[wide, 0])))


def straightened_boxes(boxes: np.ndarray) -> list[tuple[float, float, float, float]] | None:
    """Each box's extent on the page turned by its skew (None when it is not skewed).

    On a scan a few degrees off, a short line's centre sits lower (or higher) than a long
    line's beside it, and plain boxes put lines out of order and make every row look
    taller than it is; turned straight, rows are rows again."""
    angle = page_skew(boxes)
    if abs(np.degrees(angle)) < SKEW_MIN_DEG:
        return None
    cos, sin = np.cos(angle), np.sin(angle)
    xs = boxes[:, :, 0] * cos + boxes[:, :, 1] * sin
    ys = boxes[:, :, 1] * cos - boxes[:, :, 0] * sin
    return [
        (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        for x, y in zip(xs, ys, strict=True)
    ]


def _reading_order(boxes: np.ndarray) -> np.ndarray:
    """RapidOCR's box order (TextDetector.sorted_boxes) as indices: top to bottom by the
    first corner, boxes within 10 px of the previous one on one line, left to right."""
    y_order = np.argsort(boxes[:, 0, 1], kind="stable")
    line_ids = np.concatenate([[0], np.cumsum(np.diff(boxes[y_order, 0, 1]) >= 10)])
    return y_order[np.lexsort((boxes[y_order, 0, 0], line_ids))]


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    from rapidocr.utils.process_img import get_rotate_crop_image

    return get_rotate_crop_image(image, box.astype(np.float32).copy())
