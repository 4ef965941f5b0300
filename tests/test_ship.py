"""The photo counter shipped with the repository (syrac.tools.ship, syrac/counters/): compact, named, reproducible."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from repo import shanghaitech_root

from syrac.config import Model
from syrac.inference.count import SHIPPED, default_counter_path, load_counter
from syrac.inference.tiling import TilingRule
from syrac.method.counter import save_counter
from syrac.method.envelope import fit_envelope
from syrac.method.model import new_model, save_rank_model
from syrac.method.probe import LinearProbe
from syrac.tools import cli, ship

PROVENANCE = {"name": "models/syrac.pt", "synthetic": "renders of the embedded crowd simulator",
              "photographs": ["shanghaitech datasets/ShanghaiTech/part_B (train split, less its development part)"],
              "backbone": "mobilenet_v3_small", "input_size": [32, 48], "probe": "nonnegative, rank_refined labels",
              "seed": 1}


def _counter(root: Path, photographs=True) -> Path:
    model = new_model(Model("mobilenet_v3_small", "none", (32, 48), "fp32"))
    save_rank_model(root / "rank.pt", model, "mobilenet_v3_small", (32, 48), {})
    rank = torch.load(root / "rank.pt", weights_only=True)
    rng = np.random.default_rng(0)
    envelope = fit_envelope(np.abs(rng.normal(0, 1, (300, model.feature_dim))),
                            rng.integers(0, 256, (300, 32, 48, 3), dtype=np.uint8), seed=0)
    provenance = {**PROVENANCE, "photographs": PROVENANCE["photographs"] if photographs else []}
    save_counter(
        root / "syrac.pt",
        {**rank, "tiling": TilingRule(50.0, 2).to_bundle(), "envelope": envelope.to_bundle(), "provenance": provenance},
        LinearProbe(np.full(model.feature_dim, 0.01, np.float32), 0.0),
    )
    return root / "syrac.pt"


def test_a_shipped_counter_is_half_precision_names_itself_and_reads_its_check_image_as_recorded(tmp_path, capsys):
    counter_path = _counter(tmp_path)
    out = tmp_path / "counters/photo.pt"
    out.parent.mkdir()
    record = ship.ship(counter_path, out, None, {"commit": "abc", "note": "seed 1: ahead on both development parts"})
    state = torch.load(out, weights_only=True)["state_dict"]
    assert all(t.dtype == torch.float16 for t in state.values() if t.is_floating_point())
    assert out.stat().st_size < 0.6 * counter_path.stat().st_size
    written = json.loads(out.with_suffix(".json").read_text())
    assert written == record and written["note"].startswith("seed 1") and written["trained_by"]["seed"] == 1
    assert written["machine"]["cpu_family"] and len(written["sha256"]) == 64
    loaded = load_counter(out)
    assert loaded.read(ship.check_image(), None).count == pytest.approx(written["check_image_count"], abs=1e-3)
    full = load_counter(counter_path).read(ship.check_image(), None).count
    assert loaded.read(ship.check_image(), None).count == pytest.approx(full, rel=0.02)  # half precision moves little
    assert cli.main(["count", str(tmp_path / "counters"), "--model", str(out), "--format", "json"]) == 2  # no images
    assert "no images" in capsys.readouterr().err
    ship.check_image().save(tmp_path / "check.png")
    assert cli.main(["count", str(tmp_path / "check.png"), "--model", str(out)]) == 0
    assert capsys.readouterr().out.startswith("# counted by the shipped photo counter (mobilenet_v3_small, seed 1): "
                                              "trained on renders of the embedded crowd simulator and unlabelled "
                                              "photographs")


def test_the_ship_command_records_the_training_commit_and_params_whole(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text("seed: 1\nprobe:\n  form: ridge\n")
    out = tmp_path / "photo.pt"
    argv = [str(_counter(tmp_path)), "--out", str(out), "--commit", "704b57b", "--note", "seed 1"]
    assert ship.main([*argv, "--params", str(tmp_path / "params.yaml")]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["commit"] == "704b57b" and record["params"] == {"seed": 1, "probe": {"form": "ridge"}}
    assert capsys.readouterr().out.startswith(f"{out}: ")
    with pytest.raises(SystemExit):
        ship.main([*argv, "--params", str(tmp_path / "missing.yaml")])
    assert "no such params file" in capsys.readouterr().err


def test_only_a_counter_that_saw_photographs_is_shipped(tmp_path):
    with pytest.raises(ValueError, match="never saw a photograph"):
        ship.ship(_counter(tmp_path, photographs=False), tmp_path / "photo.pt", None, {})
    assert not (tmp_path / "photo.pt").exists()


def test_syrac_count_without_a_model_uses_the_shipped_counter_where_the_checkout_has_one():
    assert default_counter_path() == (SHIPPED if SHIPPED.is_file() else Path("models/syrac.pt"))


SHANGHAITECH = shanghaitech_root()  # $SYRAC_SHANGHAITECH (.ci/run sets it from ../shared) or datasets/


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped counter in this checkout")
def test_the_shipped_counter_reads_its_check_image_as_its_provenance_records():
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert record["bytes"] == SHIPPED.stat().st_size <= 25 * 10**6
    count = load_counter(SHIPPED).read(ship.check_image(), None).count
    assert count == pytest.approx(record["check_image_count"], rel=0.02)  # bf16 kernels differ between CPU families


@pytest.mark.skipif(not SHIPPED.is_file() or SHANGHAITECH is None, reason="needs the shipped counter and ShanghaiTech")
def test_the_shipped_counter_reproduces_its_recorded_shanghaitech_figures():
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    measured = ship.read_splits(load_counter(SHIPPED), SHANGHAITECH, ("test",))  # CI's time: the test splits
    for name, splits in record["reads"].items():
        assert measured[name]["test"]["mae"] == pytest.approx(splits["test"]["mae"], rel=0.02), name
