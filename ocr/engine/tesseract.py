"""`local/tesseract`: the tesseract binary, when installed, one process per page.

OMP_THREAD_LIMIT=1: tesseract's OpenMP threads fight each other on small machines and
make it several times slower, and the pool already runs pages in parallel.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import cv2
import numpy as np

from ocr.engine.tasks import Line

_LANGUAGES = {"en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por"}


def tesseract_binary() -> str | None:
    return shutil.which("tesseract")


def tesseract_read(image: np.ndarray, *, language: str | None, timeout_s: float) -> list[Line]:
    binary = tesseract_binary()
    if binary is None:
        raise RuntimeError("tesseract is not installed")
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    if not ok:
        raise RuntimeError("could not encode the page for tesseract")
    lang = "eng"
    if language and _LANGUAGES.get(language, "eng") != "eng":
        lang = f"eng+{_LANGUAGES[language]}"
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    completed = subprocess.run(
        [binary, "stdin", "stdout", "-l", lang, "--psm", "3", "tsv"],
        input=png.tobytes(),
        capture_output=True,
        timeout=timeout_s,
        env=env,
        check=False,
    )
    if completed.returncode != 0 and lang != "eng":
        # The language pack may be missing; English still reads most Latin text.
        return tesseract_read(image, language=None, timeout_s=timeout_s)
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.decode("utf-8", "replace")[-300:])
    return _tsv_lines(completed.stdout.decode("utf-8", "replace"))


def _tsv_lines(tsv: str) -> list[Line]:
    groups: dict[tuple[str, str, str], list[tuple[str, float, tuple[int, int, int, int]]]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 12 or fields[0] != "5":
            continue
        text = fields[11].strip()
        if not text:
            continue
        left, top, width, height = (int(value) for value in fields[6:10])
        conf = max(0.0, float(fields[10])) / 100.0
        key = (fields[2], fields[3], fields[4])
        groups.setdefault(key, []).append((text, conf, (left, top, left + width, top + height)))
    lines = []
    for words in groups.values():
        lines.append(
            Line(
                text=" ".join(word[0] for word in words),
                box=(
                    float(min(word[2][0] for word in words)),
                    float(min(word[2][1] for word in words)),
                    float(max(word[2][2] for word in words)),
                    float(max(word[2][3] for word in words)),
                ),
                confidence=sum(word[1] for word in words) / len(words),
            )
        )
    return lines
