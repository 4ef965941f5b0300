"""Rank pre-training: held-out split by source, model selection and early stopping, resuming after
interruption."""

import numpy as np
import pytest
import torch
import yaml

from syrac import config
from syrac.method.pretrain import PairSet, pretrain, split_holdout


def tiny_cfg(epochs=3, **pretrain_overrides):
    """The default params at 32x32, batches of 8 (also for tests/test_scale.py)."""
    with open("params.yaml") as handle:
        data = yaml.safe_load(handle)
    data["model"]["input_size"] = [32, 32]
    data["pretrain"].update(epochs=epochs, batch_size=8, **pretrain_overrides)
    return config.from_dict(data)


def random_pairs(n_sources=10, edits=2):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (n_sources * (edits + 1), 3, 32, 32), dtype=np.uint8))
    source = torch.tensor([s * (edits + 1) for s in range(n_sources) for _ in range(edits)])
    edit = torch.tensor([s * (edits + 1) + 1 + e for s in range(n_sources) for e in range(edits)])
    return PairSet(images, source, edit, np.repeat(np.arange(n_sources), edits))


def test_holdout_keeps_whole_sources_apart():
    train, held = split_holdout(random_pairs(20, 4), 0.15, seed=0)
    assert len(held) == 3 * 4 and len(train) == 17 * 4
    assert not set(train.group) & set(held.group)


class Killed(Exception):
    pass


def die_in_epoch_two(epoch, figures):
    """A crash after epoch 1 was checkpointed, before epoch 2 is."""
    if epoch == 2:
        raise Killed


def test_interrupted_training_resumes_to_the_same_model(tmp_path):
    cfg, pairs = tiny_cfg(), random_pairs()
    clean_model, clean_summary = pretrain(cfg, pairs)

    checkpoint = tmp_path / "pretrain.pt"
    with pytest.raises(Killed):
        pretrain(cfg, pairs, die_in_epoch_two, checkpoint)
    assert checkpoint.is_file()

    logged = []
    model, summary = pretrain(cfg, pairs, lambda epoch, figures: logged.append(epoch), checkpoint)
    assert summary == clean_summary
    assert logged == [1, 2, 3]  # epoch 1 replayed from the checkpoint, so the curves are whole
    assert not checkpoint.exists()
    for name, tensor in clean_model.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name


def test_a_checkpoint_from_other_parameters_is_not_resumed(tmp_path, capsys):
    checkpoint = tmp_path / "pretrain.pt"
    with pytest.raises(Killed):
        pretrain(tiny_cfg(lr=0.01), random_pairs(), die_in_epoch_two, checkpoint)
    clean_model, clean_summary = pretrain(tiny_cfg(), random_pairs())
    model, summary = pretrain(tiny_cfg(), random_pairs(), None, checkpoint)
    assert "ignoring" in capsys.readouterr().out
    assert summary == clean_summary
    assert all(torch.equal(t, model.state_dict()[n]) for n, t in clean_model.state_dict().items())


def test_early_stopping_keeps_the_epoch_of_lowest_held_out_loss():
    logged = []
    model, summary = pretrain(tiny_cfg(epochs=8, select_on="loss", patience=1), random_pairs(),
                              lambda epoch, figures: logged.append(figures))
    losses = [figures["holdout_ranking_loss"] for figures in logged]
    best = summary["best_epoch"]
    assert summary["epochs_run"] == len(logged) < 8  # stopped early, one epoch after the best
    assert len(logged) == best + 1 and losses[best] >= losses[best - 1] == min(losses)
    assert summary["holdout_ranking_loss"] == losses[best - 1]
    short, _ = pretrain(tiny_cfg(epochs=best, select_on="loss"), random_pairs())  # the run that ends there
    assert all(torch.equal(t, model.state_dict()[n]) for n, t in short.state_dict().items())


def test_the_selection_settings_are_refused_out_of_range():
    with pytest.raises(config.ConfigError) as error:
        tiny_cfg(select_on="rmse", patience=-1)
    text = str(error.value)
    assert "pretrain.select_on" in text and "accuracy or loss" in text and "pretrain.patience" in text
