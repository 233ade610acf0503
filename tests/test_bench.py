"""The benchmark runs end to end and writes its figures (no timing is asserted: machines are noisy)."""
import json

from search.cli import main


def test_bench_measures_both_pipelines_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--images", "256", "--trials", "0", "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert [m["model"] for m in figures["models"]] == ["seed001", "seed002", "arch-typical"]
    for m in figures["models"]:
        assert m["ours_img_s"] > 0 and m["source_img_s"] > 0
        assert abs(m["ratio"] - m["ours_img_s"] / m["source_img_s"]) < 0.02 * m["ratio"] + 0.01
        assert m["model"] in printed
    assert figures["workers"] == "not measured (no GPU)"
