"""The rule-based invoice extractor's accuracy, field by field, on the ten SROIE receipts
and on receipts and invoices it was never tuned on (prints; not a test).

    .venv/bin/python bench/invoice_rules.py [--seed N ...] [--count N] [--hard N ...]
        [--cache FILE] [-v]

Each document goes through the real engine (`engine_run`: RapidOCR for images, the text
layer for PDFs) and then `invoice_extract_rules`, as seed 002 does without a chat model.
The held-out documents come from tests/fakes/invoices.py (one set per seed, rendered on
the spot); `--hard` adds sets of tests/fakes/invoices_hard.py (the cases those leave
out: unlabelled, tipped, part-paid, large, rounded and foreign totals, taglines). Fields are compared as `tests.fakes.invoices.field_matches` says: the vendor's
name at >= 0.8 similarity (case and spacing ignored), the date as ISO 8601, the total as
a number. `--cache` keeps the engine's texts in a JSON file keyed by the document's
SHA-256, so a second run measures the rules alone in a second.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

CORPUS = ROOT.parent / "shared" / "corpus"
FIELDS = ("vendor", "date", "total")


def sroie_documents() -> list:
    from tests.fakes.invoices import Document, sroie_truth

    documents = []
    for scan in sorted((CORPUS / "sroie").glob("*.jpg")):
        truth = sroie_truth(json.loads(scan.with_suffix(".json").read_text()))
        documents.append(Document(f"sroie-{scan.stem}", scan.read_bytes(), "image/jpeg", truth))
    return documents


def engine_text(data: bytes, cache: dict[str, str]) -> str:
    from ocr.engine import engine_run
    from ocr.intake.document import document_open

    key = hashlib.sha256(data).hexdigest()
    if key not in cache:
        cache[key] = engine_run(document_open(data=data)).text
    return cache[key]


def score(label: str, documents: list, cache: dict[str, str], verbose: bool) -> None:
    from ocr.extraction.rules import invoice_extract_rules
    from tests.fakes.invoices import extracted_fields, field_matches

    hits: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0))
    counts: dict[str, int] = defaultdict(int)
    misses = []
    for document in documents:
        got = extracted_fields(invoice_extract_rules(text=engine_text(document.data, cache)))
        group = "-".join(document.name.split("-")[2:4]) or "all"
        for key in ("all", group) if group != "all" else ("all",):
            counts[key] += 1
        for field in FIELDS:
            if field_matches(field, got[field], document.truth[field]):
                hits["all"][field] += 1
                if group != "all":
                    hits[group][field] += 1
            else:
                misses.append((document.name, field, got[field], document.truth[field]))
    total = counts["all"]
    figures = "  ".join(
        f"{f} {hits['all'][f]}/{total} ({hits['all'][f] / total:.0%})" for f in FIELDS
    )
    all_three = total - len({name for name, *_ in misses})
    print(f"{label:<28} {figures}  all three {all_three}/{total}")
    if verbose:
        for group in sorted(key for key in counts if key != "all"):
            row = "  ".join(f"{f} {hits[group][f]}/{counts[group]}" for f in FIELDS)
            print(f"    {group:<24} {row}")
        for name, field, got, want in misses:
            print(f"    miss {name:<28} {field:<6} got {got!r:<40} want {want!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, nargs="*", default=[1, 2], help="held-out sets")
    parser.add_argument("--count", type=int, default=40, help="documents per held-out set")
    parser.add_argument("--hard", type=int, nargs="*", default=[], help="hard-case sets")
    parser.add_argument("--hard-count", type=int, default=44, help="documents per hard set")
    parser.add_argument("--cache", type=Path, help="JSON file of engine texts to reuse")
    parser.add_argument("-v", "--verbose", action="store_true", help="groups and misses")
    args = parser.parse_args()

    import django

    django.setup()
    from tests.fakes.invoices import held_out_documents
    from tests.fakes.invoices_hard import hard_documents

    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    started = time.perf_counter()
    score("SROIE (10 receipts)", sroie_documents(), cache, args.verbose)
    for seed in args.seed:
        documents = held_out_documents(seed=seed, count=args.count)
        score(f"held-out seed {seed} ({len(documents)} docs)", documents, cache, args.verbose)
    for seed in args.hard:
        documents = hard_documents(seed=seed, count=args.hard_count)
        score(f"hard seed {seed} ({len(documents)} docs)", documents, cache, args.verbose)
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.cache:
        args.cache.write_text(json.dumps(cache))


if __name__ == "__main__":
    main()
