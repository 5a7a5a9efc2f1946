#!/usr/bin/env python3
"""ONNX Runtime side of the inference benchmark (called by `edge-bench`).

usage: ort_bench.py MODEL.onnx INPUT_NAME SHAPE(comma-separated) ITERATIONS THREADS
INPUT_NAME `tokens` feeds a text encoder's input_ids, attention_mask and token_type_ids
(INT64, the same values as the Rust side). Prints one JSON line: {"p50_us", "p99_us",
"mean_us", "version"}.
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort

model, name, shape, iterations, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
shape = [int(d) for d in shape.split(",")]
options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
if name == "tokens":
    i = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    seq = shape[-1]
    feed = {"input_ids": i * 7 % 500 + 1, "attention_mask": np.ones(shape, dtype=np.int64),
            "token_type_ids": (i % seq >= seq // 2).astype(np.int64)}
else:
    x = (np.arange(np.prod(shape), dtype=np.float32).reshape(shape) % 17 - 8) / 8
    feed = {name: x}
for _ in range(max(10, iterations // 10)):
    session.run(None, feed)
times = []
for _ in range(iterations):
    start = time.perf_counter_ns()
    session.run(None, feed)
    times.append((time.perf_counter_ns() - start) / 1000)
times.sort()
print(json.dumps({
    "p50_us": times[len(times) // 2],
    "p99_us": times[min(len(times) - 1, len(times) * 99 // 100)],
    "mean_us": sum(times) / len(times),
    "version": ort.__version__,
}))
