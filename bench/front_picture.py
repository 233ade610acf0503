"""The README's picture of a run's front: the report's Pareto chart of a real study, drawn by headless
Chromium into a PNG.

    .venv/bin/python bench/front_picture.py bench/results/gpu-h200-first-run/study.db docs/front.png

The study is read through a copy (the file given is never written); the chart is the report's own
(search.reports), so it shows what `mnist-search report` shows: proxy trials, their front, the finals
and their front, the published points, and the presets measured by bench/preset_claims.py.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optuna  # noqa: E402

from search.optuna_adapter import experimental_quiet  # noqa: E402
from search.reports import _html as report  # noqa: E402

WIDTH, HEIGHT = 1000, 560


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("study_db", help="a SQLite study file")
    p.add_argument("png", help="where the picture goes")
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "study.db"
        shutil.copy(args.study_db, db)
        url = f"sqlite:///{db}"
        with experimental_quiet():
            study = optuna.load_study(study_name=optuna.get_all_study_names(url)[0], storage=url)
        fig = report.pareto_figure(study)
        fig.update_layout(width=WIDTH, height=HEIGHT, margin=dict(l=60, r=20, t=60, b=50))
        page = Path(tmp) / "front.html"
        page.write_text(fig.to_html(include_plotlyjs=True, full_html=True, config={"displayModeBar": False}))
        subprocess.run(
            [
                args.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT}",
                "--virtual-time-budget=8000",
                f"--screenshot={Path(args.png).resolve()}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    print(f"written: {args.png}")


if __name__ == "__main__":
    main()
