#!/usr/bin/env python3
"""Trains the demo's wine classifiers and exports them to ONNX with reference check cases.

    pip install numpy onnx            # (and scikit-learn for --write-data)
    python3 examples/wine/train.py    # writes examples/wine/build/*.onnx and *.checks.json

Then `fleet model import` turns each into a model directory (see README.md here):
  - version 1: a linear model (softmax regression) on 3 of the 13 measurements: fair accuracy;
  - version 2: a 13-16-3 MLP on all measurements: better accuracy;
  - bad: version 2 with its output classes rotated: what `fleet demo --bad-model` rolls out.
The split is fixed (seed 7): 118 training rows, 60 rows the demo replays as live traffic, with
their labels arriving later. Inputs are the raw measurements; the standardisation is folded
into the first layer, so boxes get the CSV values as they are.
"""
import argparse
import csv
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    with open(os.path.join(HERE, "data", "wine.csv")) as f:
        rows = list(csv.reader(f))[1:]
    x = np.array([[float(v) for v in r[:-1]] for r in rows], dtype=np.float64)
    y = np.array([int(r[-1]) for r in rows])
    return x, y


def split(x, y):
    order = np.random.default_rng(7).permutation(len(y))
    train, replay = order[:118], order[118:]
    return train, replay


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit(x, y, hidden, steps, lr, seed):
    """Full-batch gradient descent on cross-entropy; returns the layer weights."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(3)[y]
    sizes = [x.shape[1]] + ([hidden] if hidden else []) + [3]
    ws = [rng.normal(0, 1 / np.sqrt(a), (a, b)) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    for _ in range(steps):
        acts = [x]
        for i, (w, b) in enumerate(zip(ws, bs)):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0) if i < len(ws) - 1 else softmax(z))
        grad = (acts[-1] - onehot) / len(y)
        for i in reversed(range(len(ws))):
            gw, gb = acts[i].T @ grad, grad.sum(axis=0)
            if i > 0:
                grad = (grad @ ws[i].T) * (acts[i] > 0)
            ws[i] -= lr * gw
            bs[i] -= lr * gb
    return ws, bs


def forward(x, ws, bs):
    a = x
    for i, (w, b) in enumerate(zip(ws, bs)):
        a = a @ w + b
        if i < len(ws) - 1:
            a = np.maximum(a, 0)
    return a, softmax(a)


def export(name, ws, bs, path):
    nodes, inits, prev = [], [], "x"
    for i, (w, b) in enumerate(zip(ws, bs)):
        wn, bn, out = f"w{i}", f"b{i}", ("logits" if i == len(ws) - 1 else f"h{i}")
        inits += [numpy_helper.from_array(w.astype(np.float32), wn),
                  numpy_helper.from_array(b.astype(np.float32), bn)]
        nodes.append(helper.make_node("Gemm", [prev, wn, bn], [out], name=f"gemm{i}"))
        prev = out
        if i < len(ws) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"r{i}"], name=f"relu{i}"))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"))
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 13])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="train.py")
    onnx.checker.check_model(model)
    onnx.save(model, path)


def checks(x, ws, bs, path):
    logits, probs = forward(x, ws, bs)
    cases = [{
        "name": f"row{i}",
        "inputs": [{"name": "x", "shape": [1, 13], "datatype": "FP32", "data": [float(v) for v in x[i]]}],
        "outputs": [
            {"name": "logits", "shape": [1, 3], "datatype": "FP32", "data": [float(v) for v in logits[i]]},
            {"name": "probabilities", "shape": [1, 3], "datatype": "FP32", "data": [float(v) for v in probs[i]]},
        ],
    } for i in range(4)]
    with open(path, "w") as f:
        json.dump({"atol": 1e-3, "rtol": 1e-3, "cases": cases}, f)


def fold(ws, mean, std, mask):
    """Makes the first layer take raw features: (x - mean) / std, unused features zero."""
    w0 = np.zeros((13, ws[0].shape[1]))
    w0[mask] = ws[0] / std[mask, None]
    b0 = -(mean[mask] / std[mask]) @ ws[0]
    return [w0] + ws[1:], b0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-data", action="store_true", help="rewrite data/wine.csv from scikit-learn")
    args = parser.parse_args()
    if args.write_data:
        from sklearn.datasets import load_wine
        d = load_wine()
        with open(os.path.join(HERE, "data", "wine.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(d.feature_names) + ["class"])
            for row, t in zip(d.data, d.target):
                w.writerow([repr(float(v)) for v in row] + [int(t)])
    x, y = load()
    train, replay = split(x, y)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    z = (x - mean) / std
    out = os.path.join(HERE, "build")
    os.makedirs(out, exist_ok=True)
    # Version 1: linear, 3 measurements (malic acid, ash, alcalinity of ash), few steps.
    mask1 = np.zeros(13, dtype=bool)
    mask1[[1, 2, 3]] = True
    w1, b1 = fit(z[train][:, mask1], y[train], hidden=0, steps=200, lr=0.5, seed=1)
    w1_raw, b1_0 = fold(w1, mean, std, mask1)
    v1 = (w1_raw, [b1[0] + b1_0])
    # Version 2: 13-16-3 MLP on every measurement.
    mask2 = np.ones(13, dtype=bool)
    w2, b2 = fit(z[train], y[train], hidden=16, steps=1500, lr=0.3, seed=2)
    w2_raw, b2_0 = fold(w2, mean, std, mask2)
    v2 = (w2_raw, [b2[0] + b2_0] + b2[1:])
    # The bad one: version 2 with its classes rotated.
    bad = (v2[0][:-1] + [np.roll(v2[0][-1], 1, axis=1)], v2[1][:-1] + [np.roll(v2[1][-1], 1)])
    report = {}
    for name, (ws, bs) in [("wine-v1", v1), ("wine-v2", v2), ("wine-bad", bad)]:
        export(name, ws, bs, os.path.join(out, f"{name}.onnx"))
        checks(x[replay], ws, bs, os.path.join(out, f"{name}.checks.json"))
        pred = forward(x, ws, bs)[1].argmax(axis=1)
        report[name] = {"train": float((pred[train] == y[train]).mean()),
                        "replay": float((pred[replay] == y[replay]).mean())}
    with open(os.path.join(HERE, "data", "replay.json"), "w") as f:
        json.dump({"rows": [[float(v) for v in x[i]] for i in replay],
                   "labels": [int(y[i]) for i in replay]}, f)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
