"""The embedded world must have the statistical properties the method relies on."""

import numpy as np
import pytest
import yaml

from syrac import config
from syrac.synthetic import sim


def test_rendering_is_a_pure_function_of_the_seed():
    a = sim.render(sim.source_scene(sim.scene_rng(7, 1), sim.SPARSE, 40))
    b = sim.render(sim.source_scene(sim.scene_rng(7, 1), sim.SPARSE, 40))
    c = sim.render(sim.source_scene(sim.scene_rng(7, 2), sim.SPARSE, 40))
    assert a.shape == (sim.SPARSE.height, sim.SPARSE.width, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("style,count", [(sim.SPARSE, 30), (sim.DENSE, 800)])
def test_scene_has_requested_count_with_heads_inside_the_image(style, count):
    scene = sim.source_scene(sim.scene_rng(3, count), style, count)
    assert scene.count == count
    points = np.array(scene.head_points())
    assert (points[:, 0] >= 0).all() and (points[:, 0] < style.width).all()
    assert (points[:, 1] >= 0).all() and (points[:, 1] < style.height).all()


def test_people_shrink_towards_the_horizon():
    scene = sim.source_scene(sim.scene_rng(11), sim.SPARSE, 200)
    feet = np.array([p.y for p in scene.people])
    heights = np.array([p.height for p in scene.people])
    assert np.corrcoef(feet, heights)[0, 1] > 0.99  # perspective: lower in the frame = taller


def test_removal_never_adds_people_and_sometimes_keeps_all():
    removed, unchanged = [], 0
    for seed in range(60):
        scene = sim.source_scene(sim.scene_rng(seed), sim.SPARSE, int(3 + seed % 7))
        edit = sim.remove_people(scene, sim.scene_rng(seed, 99), 0.45, (0.0, 1.0), 0.3)
        assert edit.count <= scene.count
        assert set(p.head for p in edit.people) <= set(p.head for p in scene.people)
        removed.append(scene.count - edit.count)
        unchanged += edit.count == scene.count
    assert unchanged > 0 and max(removed) > 0


def test_removal_perturbs_the_whole_image_more_with_higher_strength():
    scene = sim.source_scene(sim.scene_rng(5), sim.SPARSE, 0)  # no people: only the global edit remains
    source = sim.render(scene).astype(float)

    def change(strength):
        diffs = [np.abs(sim.render(sim.remove_people(scene, sim.scene_rng(5, s), strength, (0, 0), 0)) - source).mean()
                 for s in range(8)]
        return np.mean(diffs)

    assert change(0.9) > change(0.1) > 0


def test_prompted_counts_are_noisy_with_the_configured_spread():
    rng = sim.scene_rng(1)
    for prompted in (10, 50, 200):
        draws = np.array([sim.noisy_count(rng, prompted, 0.4) for _ in range(3000)])
        cv = draws.std() / draws.mean()
        assert abs(draws.mean() - prompted) / prompted < 0.06
        assert 0.33 < cv < 0.47
    assert sim.noisy_count(rng, 0, 0.4) == 0


def test_counting_set_has_a_different_view_from_the_benchmarks():
    assert sim.AERIAL.horizon[1] < sim.SPARSE.horizon[0]
    assert not set(sim.AERIAL.ground_palette) & set(sim.SPARSE.ground_palette)


def test_the_counting_set_can_be_framed_in_any_view_of_the_simulator_and_no_other():
    assert set(config.COUNTING_STYLES) == set(sim.STYLES)
    dense = sim.prompted_scene(sim.scene_rng(7), 200, 0.0, sim.DENSE)
    aerial = sim.prompted_scene(sim.scene_rng(7), 200, 0.0)
    assert sim.render(dense).shape == (384, 512, 3) and sim.render(aerial).shape == (192, 256, 3)
    # perspective: in the benchmarks' dense view the far people are drawn smaller than in the steep aerial one
    smallest = {name: min(p.height for p in scene.people) / scene.style.height
                for name, scene in (("dense", dense), ("aerial", aerial))}
    assert smallest["dense"] < smallest["aerial"]
    with open("params.yaml") as handle:
        params = yaml.safe_load(handle)
    params["counting"]["style"] = "photographic"
    with pytest.raises(config.ConfigError, match="counting.style.*aerial | sparse | dense"):
        config.from_dict(params)


def test_prompted_groups_are_framed_wider_as_they_grow():
    heights = {n: np.median([p.height for seed in range(20)
                             for p in sim.prompted_scene(sim.scene_rng(n, seed), n, 0.0).people])
               for n in (1, 10, 200)}
    assert heights[1] > heights[10] > heights[200]
    assert sim.prompted_scene(sim.scene_rng(2), 0, 0.4).count == 0
