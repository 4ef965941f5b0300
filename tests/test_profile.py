"""The paper profile: switching params.yaml to it and back, its validity, and its DAG."""

import copy
import shutil
import subprocess
import sys

import pytest
import yaml
from repo import REPO, dvc, make_repo, run

from syrac import config
from syrac.tools import check, profile


@pytest.fixture
def params(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    return tmp_path / "params.yaml"


@pytest.mark.parametrize("name", ["paper", "shanghaitech"])
def test_switching_to_a_profile_and_back_restores_params_byte_for_byte(params, name):
    original = params.read_bytes()
    assert profile.switch("embedded", params) == 0  # profiles/embedded.yaml matches params.yaml
    assert profile.switch(name, params) > 0
    assert (
        params.read_bytes() != original and "efficientnet_lite0; the paper uses resnet50" in params.read_text()
    )  # comments kept
    assert profile.switch("embedded", params) > 0
    assert params.read_bytes() == original


def test_the_paper_profile_has_the_papers_setup(params):
    profile.switch("paper", params)
    cfg = config.load(params)
    assert (cfg.model.backbone, cfg.model.pretrained, cfg.model.input_size) == ("resnet50", "imagenet", (640, 853))
    assert (cfg.pretrain.epochs, cfg.pretrain.lr, cfg.pretrain.holdout_fraction) == (40, 5e-5, 0.15)
    g = cfg.generator
    assert (g.backend, g.model, g.guidance_scale, g.steps) == ("diffusers", "stabilityai/stable-diffusion-2-1", 7.5, 50)
    assert g.removal_prompt == "An empty outside space. Nobody around. High resolution DSLR photography."
    assert g.removal_negative_prompt == "people, crowds, pedestrians, humans, 3d, cartoon, anime, painting"
    assert g.counting_prompt == "A group of {n} people. High angle" and g.empty_prompt == "an empty urban environment"
    assert (cfg.pairs.strength, cfg.pairs.edits_per_source) == (0.45, 4)
    assert cfg.counting.prompted_counts == (0, 1, 5, 10, 50, 100, 200) and cfg.counting.images_per_count == 60
    assert set(cfg.benchmarks) == {"shanghaitech_a", "shanghaitech_b", "ucf_qnrf", "jhu_crowd"}
    assert cfg.sources.format == "shanghaitech" and cfg.sources.split == "train"


def test_the_shanghaitech_profile_adds_the_real_benchmarks_and_their_unlabelled_photos(params):
    profile.switch("shanghaitech", params)
    cfg = config.load(params)
    assert set(cfg.benchmarks) == {"sim_sparse", "sim_dense", "shanghaitech_a", "shanghaitech_b"}
    assert cfg.generator.backend == "embedded" and cfg.evaluate.patches["shanghaitech_b"] == config.AUTO
    # chosen on the development part: the scale relations with the ridge probe on rank-refined labels
    assert (cfg.probe.labels, cfg.probe.form, cfg.pretrain.scale_relations) == ("rank_refined", "ridge", 1.0)
    assert [(p.root, p.split) for p in cfg.pretrain.unlabelled_photos] == [
        ("datasets/ShanghaiTech/part_A", "train"), ("datasets/ShanghaiTech/part_B", "train")]


def test_a_profile_s_config_is_read_without_writing_params(params):
    original = params.read_bytes()
    cfg = profile.profile_config("shanghaitech", params)
    assert (cfg.probe.form, cfg.pretrain.scale_relations) == ("ridge", 1.0) and "shanghaitech_a" in cfg.benchmarks
    assert params.read_bytes() == original
    with pytest.raises(config.ConfigError, match="no profile 'nope'; known profiles: .*shanghaitech"):
        profile.profile_config("nope", params)


def test_the_paper_dag_builds_without_running(tmp_path):
    root = make_repo(tmp_path, {})
    profile.switch("paper", root / "params.yaml")
    dag = dvc("dag", "--md", cwd=root)
    for stage in ("synthesize_pairs", "synthesize_counting", "build_benchmarks", "pretrain", "extract_features",
                  "probe", "evaluate", "patch_sweep", "umap"):
        assert stage in dag
    status = dvc("status", cwd=root)  # every stage is resolved (templated launcher included), none has run
    assert "synthesize_pairs" in status and not (root / "data").exists()


def test_check_on_the_paper_profile_lists_everything_missing_here(params, capsys, monkeypatch, tmp_path):
    profile.switch("paper", params)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.chdir(tmp_path)  # no datasets/ here
    found = check.problems(str(params))
    assert any(p.startswith("sources: ") and "ShanghaiTech/part_A/train_data/images" in p for p in found)
    for name in ("shanghaitech_a", "shanghaitech_b", "ucf_qnrf", "jhu_crowd"):
        assert any(p.startswith(f"benchmarks.{name}: ") for p in found)
    assert any(p.startswith("model.pretrained: ImageNet weights for resnet50") for p in found)
    assert any(p.startswith("generator.model: Stable Diffusion weights") for p in found)


def test_an_unknown_profile_is_an_error_naming_the_known_ones(params):
    result = subprocess.run([sys.executable, "-m", "syrac.tools.profile", "fast", str(params)], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 2 and "no profile 'fast'; known profiles: embedded, paper" in result.stderr


def test_switching_away_from_a_profile_leaves_no_output_of_its_benchmarks(tiny_repo, tmp_path, monkeypatch):
    """A run of a profile with one more benchmark leaves that benchmark's files in the uncached plot
    folders; git never tracked them, so only the switch back can remove them for `dvc status` to be clean."""
    root = tmp_path / "repo"
    shutil.copytree(tiny_repo, root, symlinks=True)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "outputs"], root)
    committed = yaml.safe_load((root / "params.yaml").read_text())
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles/committed.yaml").write_text(yaml.safe_dump(
        {"benchmarks": committed["benchmarks"], "evaluate": {"patches": committed["evaluate"]["patches"]}}))
    monkeypatch.setattr(profile, "PROFILES", tmp_path / "profiles")
    wider = copy.deepcopy(committed)  # the other profile: the same and one more benchmark
    wider["benchmarks"]["extra_set"] = wider["benchmarks"]["sim_sparse"]
    wider["evaluate"]["patches"]["extra_set"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(wider, sort_keys=False))
    debris = [root / path for path in ("plots/predictions/extra_set.csv", "plots/patch_sweep/extra_set.csv",
                                       "plots/umap/extra_set.png", "plots/review_ranking/worst_pairs_extra_set.png")]
    for path in debris:  # what that profile's run wrote beside the committed benchmarks' files
        path.write_bytes(b"written by the other profile's run")
    kept = sorted(p.relative_to(root) for p in (root / "plots").rglob("*") if p.is_file() and p not in debris)

    profile.switch("committed", root / "params.yaml")
    run(["git", "checkout", "--", "."], root)
    dvc("checkout", cwd=root)
    assert not any(path.exists() for path in debris)
    assert sorted(p.relative_to(root) for p in (root / "plots").rglob("*") if p.is_file()) == kept
    assert "up to date" in dvc("status", cwd=root)
    debris[0].write_bytes(b"left by hand")  # what the switch spares the user: DVC sees the folder changed
    assert "modified" in dvc("status", cwd=root)
