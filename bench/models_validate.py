"""Measure validate_cases on realistic case dicts: ``python tests/models/bench_models_validate.py [N]``."""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "models"))
sys.path.insert(0, str(Path(__file__).parents[1]))

from models_sample_data import make_cases  # noqa: E402

from gateway.models import Case, cases_to_rows, content_hash, validate_cases  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402


def main(n: int = 50_000) -> None:
    records = make_cases(n)
    refs = [f"bench:{i}" for i in range(n)]
    text = [json.dumps(r, ensure_ascii=False) for r in records]

    def best(fn, rounds=3):
        times = []
        for _ in range(rounds):
            gc.collect()
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return n / min(times)

    def batched(size):
        def run():
            for s in range(0, n, size):
                validate_cases(records[s : s + size], refs[s : s + size])
        return run

    plain = TypeAdapter(list[Case])
    print(f"json.loads only                    {best(lambda: [json.loads(t) for t in text]):>10,.0f} rec/s")
    print(f"TypeAdapter(list[Case]) bare       {best(lambda: plain.validate_python(records)):>10,.0f} rec/s")
    print(f"validate_cases (one batch)         {best(lambda: validate_cases(records, refs)):>10,.0f} rec/s")
    for size in (1000, 5000):
        print(f"validate_cases (batches of {size:>5})  {best(batched(size)):>10,.0f} rec/s")
    cases = [c for _, c in validate_cases(records, refs).valid]
    print(f"cases_to_rows                      {best(lambda: cases_to_rows(cases)):>10,.0f} rec/s")
    rows = cases_to_rows(cases)
    print(f"content_hash(row)                  {best(lambda: [content_hash(r) for r in rows]):>10,.0f} rec/s")
    per_case = best(lambda: [content_hash(c) for c in cases])
    print(f"content_hash(case)                 {per_case:>10,.0f} rec/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
