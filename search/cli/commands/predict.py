"""`mnist-search predict DIR image ...`: read digits from image files."""

from __future__ import annotations

import json
from pathlib import Path

from mnistnet.train import predict

from ...exporting import model_dir
from ...errors import BadArgument, NotFound


def main(args) -> int:
    from mnistnet.preprocess import ImageError, load_digits

    _, model, _ = model_dir.load(args.model_dir)
    missing = [p for p in args.images if not Path(p).is_file()]
    if missing:
        raise NotFound(f"no such image file: {missing[0]}")
    try:
        x, reasons = load_digits(args.images)
    except ImageError as exc:
        raise BadArgument(str(exc)) from None  # names the file and what to give instead
    probs = predict(model, x)
    conf, digits = probs.max(1)
    results = [
        {"file": str(p), "digit": None, "reason": why}
        if why
        else {
            "file": str(p),
            "digit": int(d),
            "confidence": round(float(c), 4),
            "probabilities": [round(float(v), 4) for v in row],
        }
        for p, d, c, row, why in zip(args.images, digits, conf, probs, reasons)
    ]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["digit"] is None:
                print(f"{r['file']}: no digit found: {r['reason']}")
            else:
                print(f"{r['file']}: {r['digit']} ({r['confidence']:.1%})")
    return 0
