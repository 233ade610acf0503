"""The HTML report, rendered by headless Chromium at 1280x800: every plot draws, no label is cut off,
accuracy axes zoom to the data."""

import json
import re
import subprocess

import pytest

from test_dashboard import CHROMIUM, FLAGS

# Appended to a copy of the report: after plotly has drawn, list every text outside its figure.
CHECK = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const cut = [];
  const plots = document.querySelectorAll('.js-plotly-plot');
  plots.forEach((plot, i) => {
    const box = plot.getBoundingClientRect();
    plot.querySelectorAll('text').forEach(t => {
      const r = t.getBoundingClientRect();
      if (!t.textContent.trim() || r.width === 0) return;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        cut.push(i + ': ' + t.textContent.slice(0, 60));
    });
  });
  const out = document.createElement('pre');
  out.id = 'label-check';
  out.textContent = JSON.stringify({plots: plots.length, cut: cut});
  document.body.appendChild(out);
}, 3000));
</script>"""


@pytest.fixture(scope="module")
def report(tiny_study, tmp_path_factory):
    url, _, _ = tiny_study
    out = tmp_path_factory.mktemp("report")
    from search.cli import main

    assert main(["report", "--storage", url, "--out", str(out)]) == 0
    return out / "arch.html"


@pytest.mark.slow
def test_report_is_one_self_contained_page_with_every_section(report):
    page = report.read_text()
    for title in (
        "Finals: the full-fidelity front across sizes",
        "Ranking quality of the proxy",
        "Optimization history",
        "Pareto front",
        "Hyperparameter importances",
        "Parallel coordinates",
        "Intermediate values",
        "Training curves of the best trials",
        "Best proxy trials",
    ):
        assert f"<h2>{title}" in page
    assert "<em>not available" not in page  # every plot was drawn
    assert "Answer: trial" in page and "validation accuracy" in page
    assert "seed001" in page and "seed002" in page  # presets as reference lines
    assert page.count("plotly.js") >= 1 and 'src="https://cdn.plot.ly' not in page


@pytest.mark.slow
def test_measured_presets_are_points_of_the_front_and_inside_its_range(tiny_study, tmp_path, monkeypatch):
    import optuna
    from mnistnet import preset_results
    from search.reports import _html as report

    row = {"preset": "gap16k", "params": 16_478, "val_acc_mean": 0.999, "val_acc_std": 0.0004, "test_acc_mean": 0.998}
    answer = {**row, "preset": "default run's answer", "params": 9_000}  # a table row, not a preset
    (tmp_path / "r.json").write_text(json.dumps([row, answer]))
    monkeypatch.setattr(preset_results, "RESULTS_FILE", tmp_path / "r.json")
    fig = report.pareto_figure(optuna.load_study(study_name="arch", storage=tiny_study[0]))
    points = next(d for d in fig.data if d.name.startswith("source presets"))
    assert list(points.x) == [16_478] and list(points.y) == [0.999] and "gap16k" in points.text[0]
    assert fig.layout.yaxis.range[1] >= 0.999


@pytest.mark.slow
def test_accuracy_axes_zoom_to_the_trained_trials(tiny_study):
    """98.2 % and 99.4 % must not look the same: the axes span the trials, not 0 to 1, and each chart's
    range reaches the highest point that chart draws (whichever stage holds the study's best trial)."""
    import optuna
    from search.reports import _html as report  # its drawing helpers, tested one by one

    study = optuna.load_study(study_name="arch", storage=tiny_study[0])
    figures = dict(report.sections(study))
    for title in (
        "Optimization history (proxy stage)",
        "Pareto front",
        "Intermediate values (pruned trials stop early)",
    ):
        values = report.drawn(figures[title])
        assert values, title
        low, high = figures[title].layout.yaxis.range
        assert 0 < low and high <= 1 and high - low < 1 - 0.5 * min(values), (title, low, high)
        assert high >= max(values), (title, high, max(values))


def test_a_chart_range_reaches_a_point_above_the_trials_it_zooms_on():
    import plotly.graph_objects as go
    from search.reports import _html as report  # its drawing helpers, tested one by one

    fig = go.Figure()
    fig.add_scatter(y=[0.10, 0.95, 0.96, 0.97])
    fig.add_scatter(y=[0.99, None])  # an intermediate value above every trial's final one
    low, high = report.zoom([0.95, 0.96, 0.97] + report.highest(fig))
    assert high >= 0.99 and low > 0.5


@pytest.mark.slow
def test_no_label_is_cut_off_in_a_real_browser(report, tmp_path):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: .ci/run installs it with apt-get install chromium")
    probe = tmp_path / "probe.html"
    probe.write_text(report.read_text().replace("</body>", CHECK + "</body>"))
    flags = [f for f in FLAGS if not f.startswith("--window-size")] + ["--window-size=1280,800"]
    run = lambda *extra: subprocess.run(
        [
            CHROMIUM,
            *flags,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=30000",
            *extra,
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    dom = run("--dump-dom").stdout
    found = re.search(r'<pre id="label-check">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert check["plots"] >= 8 and check["cut"] == []
    shot = tmp_path / "report.png"
    run(f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
