#!/usr/bin/python3
"""The scikit-learn peer of `npm run bench:models`: what an ML engineer would write in ten lines.

Text: TF-IDF word 1-2 grams (sublinear tf, min_df=2, vocabulary fitted on the unlabelled pool) +
LogisticRegression. Images: pixels resized to a fixed small size (28x28 gray, or 32x32 RGB for RGB tasks),
StandardScaler fitted on the pool, LogisticRegression. Arms: `margin` (smallest top-2 probability gap first)
and `random`. Every arm starts from the same given labels (the 20 random ones bench:models draws), queries
batches of `batch`, refits after the start labels, at each budget and every `refitEvery` labels (0: only
at budgets, as bench:models does by default), and is scored on the test set at each budget.

A benchmark yardstick only, never a runtime dependency. Run with Debian's python3 (python3-sklearn):

  /usr/bin/python3 scripts/bench-peer.py < spec.json > curves.json

spec: {"dataDir", "task", "modality", "channels", "size", "budgets": [...], "arms": ["margin", "random"],
       "batch": 10, "refitEvery": 0, "C": 1.0, "runs": [{"seed": 1, "start": [pool indices...]}]}
out:  {"task", "arms": {arm: [{"seed", "curve": [{"labels", "accuracy", "fitSeconds"}], "seconds"}]}}
"""
import base64
import io
import json
import os
import sys
import time
import warnings

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore", category=ConvergenceWarning)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def image_features(rows, size, channels):
    out = np.empty((len(rows), size * size * channels), dtype=np.float32)
    for i, r in enumerate(rows):
        img = Image.open(io.BytesIO(base64.b64decode(r["image"])))
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(bg, img)
        img = img.convert("RGB" if channels == 3 else "L").resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(img, dtype=np.float32).reshape(-1) / 255.0
    return out


def features(spec, pool, test):
    if spec["modality"] == "text":
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)
        xp = vec.fit_transform([r["text"] for r in pool])
        return xp, vec.transform([r["text"] for r in test])
    size, channels = spec.get("size", 28), spec.get("channels", 1)
    xp, xt = image_features(pool, size, channels), image_features(test, size, channels)
    scaler = StandardScaler().fit(xp)
    return scaler.transform(xp), scaler.transform(xt)


def fit(x, y, seed, c=1.0):
    clf = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    clf.fit(x, y)
    return clf


def run_arm(arm, seed, start, xp, yp, xt, yt, spec):
    t0 = time.time()
    rng = np.random.default_rng(seed)
    budgets = sorted(spec["budgets"])
    batch, refit_every = spec.get("batch", 10), spec.get("refitEvery", 0)
    labelled = list(start)
    is_labelled = np.zeros(len(yp), dtype=bool)
    is_labelled[labelled] = True
    clf, fitted_at, curve = None, -1, []

    def refit():
        nonlocal clf, fitted_at
        y = yp[labelled]
        clf = fit(xp[labelled], y, seed, spec.get("C", 1.0)) if len(set(y)) > 1 else None
        fitted_at = len(labelled)

    while True:
        n = len(labelled)
        if n in budgets:
            t1 = time.time()
            refit()
            acc = float(np.mean(clf.predict(xt) == yt)) if clf is not None else float(np.mean(yt == yp[labelled][0]))
            curve.append({"labels": n, "accuracy": round(acc, 4), "fitSeconds": round(time.time() - t1, 2)})
        if n >= budgets[-1]:
            break
        if fitted_at < 0 or (refit_every > 0 and n - fitted_at >= refit_every):
            refit()
        take = min(batch, min(b for b in budgets if b > n) - n)
        rest = np.flatnonzero(~is_labelled)
        if arm == "random" or clf is None:
            pick = rng.choice(rest, size=take, replace=False)
        elif arm == "margin":
            p = clf.predict_proba(xp[rest])
            top2 = np.sort(p, axis=1)[:, -2:]
            gap = top2[:, 1] - top2[:, 0]
            pick = rest[np.argsort(gap, kind="stable")[:take]]
        else:
            raise SystemExit(f"unknown arm {arm}")
        labelled.extend(int(i) for i in pick)
        is_labelled[pick] = True
    return {"seed": seed, "curve": curve, "seconds": round(time.time() - t0, 1)}


def main():
    spec = json.load(sys.stdin)
    d, task = spec["dataDir"], spec["task"]
    pool = read_jsonl(os.path.join(d, f"{task}.train.jsonl"))
    test = read_jsonl(os.path.join(d, f"{task}.test.jsonl"))
    xp, xt = features(spec, pool, test)
    yp = np.array([r["label"] for r in pool])
    yt = np.array([r["label"] for r in test])
    out = {"task": task, "poolSize": len(pool), "testSize": len(test), "arms": {}}
    for arm in spec["arms"]:
        out["arms"][arm] = []
        for run in spec["runs"]:
            res = run_arm(arm, run["seed"], run["start"], xp, yp, xt, yt, spec)
            print(f"  peer-{arm} seed {run['seed']}: " + ", ".join(f"{p['labels']}: {p['accuracy']}" for p in res["curve"]) + f" ({res['seconds']} s)", file=sys.stderr)
            out["arms"][arm].append(res)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
