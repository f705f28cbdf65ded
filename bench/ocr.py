"""OCR engine figures on the corpus, side by side, in one run (prints; not a test).

    .venv/bin/python bench/ocr.py [--rounds N] [--skip-throughput]

Three engines, each in its own spawned worker process (so peak memory is per worker):
  ours       local/rapidocr as the server runs it (ocr.engine.worker.page_run),
  defaults   RapidOCR 3.10 called with its defaults (only the model paths pinned to the
             same bundled files, which is what its defaults resolve to),
  tesseract  local/tesseract (the binary with OMP_THREAD_LIMIT=1), when installed.
Pages are interleaved (ours, defaults, tesseract, next page...) so a busy machine
slows all three alike. Figures: median and p95 seconds per receipt page (wall clock
seen by the caller, after one warm-up page), word-F1 and totals on the ten SROIE
receipts (upper-cased multiset of whitespace tokens, as the corpus README says;
our Markdown is reduced to its words first), CER on the Tesseract pages, peak RSS
per worker, pages/s with a pool of OCR_WORKERS=2 x 1 thread full, the 5000x7000
scan, and text-layer PDF pages per second through engine_run.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CORPUS = ROOT.parent / "shared" / "corpus"


# -- the RapidOCR-defaults worker (module-level so spawned processes can import it) -----

_DEFAULTS = {}


def defaults_init(threads: int | None) -> None:
    from rapidocr import RapidOCR

    from ocr.engine.rapid import rapidocr_params

    params = {k: v for k, v in rapidocr_params(threads or 1).items() if "model_path" in k}
    params["Global.log_level"] = "warning"
    if threads:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
    _DEFAULTS["engine"] = RapidOCR(params=params)


def defaults_page(data: bytes) -> tuple[str, float]:
    import cv2
    import numpy as np

    started = time.process_time()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    result = _DEFAULTS["engine"](image)
    return "\n".join(result.txts or ()), time.process_time() - started


def our_page(task) -> tuple[object, float]:
    """page_run plus the worker's CPU seconds (all threads), a load-independent cost."""
    from ocr.engine.worker import page_run

    started = time.process_time()
    result = page_run(task)
    return result, time.process_time() - started


def peak_rss(_: object = None) -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- helpers ------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def receipts() -> list[tuple[str, bytes, str, str]]:
    from tests.ocr.documents import sroie_reference

    out = []
    for scan in sorted((CORPUS / "sroie").glob("*.jpg")):
        reference = sroie_reference(scan.with_suffix(".csv").read_text())
        total = json.loads(scan.with_suffix(".json").read_text())["total"]
        out.append((scan.stem, scan.read_bytes(), reference, total))
    return out


def tesseract_pages() -> list[tuple[str, bytes, str]]:
    base = CORPUS / "tesseract"
    photo = (base / "phototest.txt").read_text()
    return [
        ("phototest", (base / "phototest.tif").read_bytes(), photo),
        ("eurotext", (base / "eurotext.tif").read_bytes(), (base / "eurotext.txt").read_text()),
        ("rotated-R", (base / "phototest-rotated-R.png").read_bytes(), photo),
        ("rotated-180", (base / "phototest-rotated-180.png").read_bytes(), photo),
    ]


class Engine:
    """One engine in one spawned worker process; `read(data)` returns plain text."""

    def __init__(self, name: str, *, threads: int, workers: int = 1) -> None:
        from ocr.engine.worker import worker_init

        self.name = name
        context = multiprocessing.get_context("spawn")
        if name == "defaults":
            init, args = defaults_init, (None if threads == 2 else threads,)
        else:
            init, args = worker_init, (threads, 120.0, name == "ours")
        self.pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=init, initargs=args
        )

    def submit(self, data: bytes):
        from ocr.engine.tasks import PageTask

        if self.name == "defaults":
            return self.pool.submit(defaults_page, data)
        engine = "rapidocr" if self.name == "ours" else "tesseract"
        return self.pool.submit(our_page, PageTask(engine=engine, kind="image", index=0, data=data))

    def text(self, outcome) -> str:
        from ocr.engine.layout import markdown_plain

        return outcome if isinstance(outcome, str) else markdown_plain(outcome.markdown)

    def read(self, data: bytes) -> tuple[str, float]:
        text, _, elapsed = self.read_timed(data)
        return text, elapsed

    def read_timed(self, data: bytes) -> tuple[str, float, float]:
        """Text, worker CPU seconds (tesseract: its own process, not counted), wall seconds."""
        started = time.perf_counter()
        outcome, cpu = self.submit(data).result()
        return self.text(outcome), cpu, time.perf_counter() - started

    def rss(self) -> float:
        return max(self.pool.submit(peak_rss).result() for _ in range(1))

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def accuracy_and_latency(names: list[str], rounds: int) -> dict:
    from tests.ocr.documents import cer, word_f1

    engines = {name: Engine(name, threads=2) for name in names}
    pages = receipts()
    for engine in engines.values():  # warm-up: load models, first-call allocations
        engine.read(pages[0][1])
    stats = {name: {"times": [], "cpu": [], "f1": {}, "totals": 0, "cer": {}} for name in names}
    for round_number in range(rounds):
        for stem, data, reference, total in pages:
            for name, engine in engines.items():
                text, cpu, elapsed = engine.read_timed(data)
                stats[name]["times"].append(elapsed)
                stats[name]["cpu"].append(cpu)
                if round_number == 0:
                    stats[name]["f1"][stem] = word_f1(text, reference)
                    stats[name]["totals"] += total in text
    for label, data, reference in tesseract_pages():
        for name, engine in engines.items():
            text, _ = engine.read(data)
            stats[name]["cer"][label] = cer(text, reference)
    for name, engine in engines.items():
        stats[name]["rss"] = engine.rss()
    if "ours" in engines:
        from PIL import Image

        scan = Image.open(CORPUS / "sroie" / "002.jpg").convert("RGB").resize((5000, 7000))
        buffer = io.BytesIO()
        scan.save(buffer, "JPEG", quality=85)
        text, elapsed = engines["ours"].read(buffer.getvalue())
        stats["ours"]["large"] = (elapsed, "33.90" in text, engines["ours"].rss())
    for engine in engines.values():
        engine.close()
    return stats


def throughput(name: str, pages: list[bytes]) -> float:
    engine = Engine(name, threads=1, workers=2)
    for future in [engine.submit(pages[0]), engine.submit(pages[1])]:
        future.result()  # both workers up and warm
    started = time.perf_counter()
    futures = [engine.submit(data) for data in pages]
    for future in futures:
        future.result()
    elapsed = time.perf_counter() - started
    engine.close()
    return len(pages) / elapsed


def text_layer_rate(page_count: int = 300) -> float:
    import django

    django.setup()
    from ocr.engine import engine_run
    from ocr.intake.document import document_open
    from tests.ocr.documents import make_pdf

    lines = [
        f"Line {n}: the quick brown fox jumps over the lazy dog, 1,234.{n:02d} EUR"
        for n in range(40)
    ]
    data = make_pdf([lines] * page_count)
    engine_run(document_open(data=make_pdf([lines])))  # warm-up
    started = time.perf_counter()
    result = engine_run(document_open(data=data))
    elapsed = time.perf_counter() - started
    assert all(page.from_text_layer for page in result.pages)
    return page_count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="timing passes over the receipts")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    has_tesseract = shutil.which("tesseract") is not None
    names = ["ours", "defaults"] + (["tesseract"] if has_tesseract else [])
    print(f"corpus: {CORPUS}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}")
    if not has_tesseract:
        print("tesseract: NOT INSTALLED - its column is absent (apt-get install tesseract-ocr)")
    stats = accuracy_and_latency(names, args.rounds)

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<34}" + "".join(f"{value:>14}" for value in values))

    print()
    row("", names)
    row("median s/receipt page", [f"{statistics.median(stats[n]['times']):.2f}" for n in names])
    row("median CPU s/receipt page", [f"{statistics.median(stats[n]['cpu']):.2f}" for n in names])
    row("p95 s/receipt page", [f"{percentile(stats[n]['times'], 0.95):.2f}" for n in names])
    row(
        "word-F1 (10 SROIE receipts)",
        [f"{statistics.mean(stats[n]['f1'].values()):.4f}" for n in names],
    )
    row("totals found verbatim", [f"{stats[n]['totals']}/10" for n in names])
    for label in ("phototest", "eurotext", "rotated-R", "rotated-180"):
        row(f"CER {label}", [f"{stats[n]['cer'][label] * 100:.2f}%" for n in names])
    row("peak RSS per worker (MiB)", [f"{stats[n]['rss']:.0f}" for n in names])
    if not args.skip_throughput:
        pages = [data for _, data, _, _ in receipts()] * 2
        row("pages/s, pool 2 workers x 1 thread", [f"{throughput(n, pages):.2f}" for n in names])
    ratio = statistics.median(stats["ours"]["times"]) / statistics.median(
        stats["defaults"]["times"]
    )
    print()
    cpu_ratio = statistics.median(stats["ours"]["cpu"]) / statistics.median(
        stats["defaults"]["cpu"]
    )
    print(f"median s/page ours / defaults: {ratio:.2f}  (target <= 0.60)")
    print(f"median CPU s/page ours / defaults: {cpu_ratio:.2f}  (tesseract's CPU is in its child)")
    for name in names:
        scores = " ".join(f"{stem}:{value:.3f}" for stem, value in stats[name]["f1"].items())
        print(f"F1 per receipt, {name}: {scores}")
    large_elapsed, large_ok, large_rss = stats["ours"]["large"]
    print(
        f"5000x7000 scan, ours: {large_elapsed:.2f} s, total found: {large_ok}, "
        f"worker peak RSS after it: {large_rss:.0f} MiB"
    )
    print(f"text-layer PDF pages/s (engine_run, 300 pages): {text_layer_rate():.0f}")


if __name__ == "__main__":
    main()
