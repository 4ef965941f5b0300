"""The README's results block is generated from metrics/, never typed."""

import json

import pytest

from syrac import report


@pytest.fixture
def metrics(tmp_path):
    files = {
        "eval.json": {"b": {"mae": 12.34, "mse": 20.0, "spearman": 0.9, "n_images": 3, "patches": 2,
                            "mean_label_baseline_mae": 50.0}},
        "patch_sweep.json": {"b": {"1": {"mae": 30.0, "mse": 40.0}, "2": {"mae": 12.34, "mse": 20.0}}},
        "pretrain.json": {"holdout_ranking_accuracy": 0.875, "epochs_run": 4, "best_epoch": 3},
        "umap.json": {"b": {"spearman_proxy_vs_true": 0.8}},
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))
    return tmp_path


def test_tables_carry_the_metric_values(metrics):
    text = report.tables(metrics)
    assert "| SYRAC (2x2) | 12.3 | 20.0 | 0.900 |" in text
    assert "| 1 | 30.0 | 40.0 |" in text and "| 2 | 12.3 | 20.0 |" in text
    assert "0.875" in text and "b 0.800" in text


def test_readme_block_is_replaced_between_markers_only(metrics, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.START}\nold\n{report.END}\noutro\n")
    report.update_readme(readme, metrics)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text and "12.3" in text
    readme.write_text("no markers")
    with pytest.raises(SystemExit, match="markers"):
        report.update_readme(readme, metrics)
