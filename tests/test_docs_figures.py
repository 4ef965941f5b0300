"""Figures the docs' prose quotes from the committed metrics are those metrics.

The tables of the README and the real pages are generated blocks (test_report keeps them current);
the readings around them quote figures by hand. Each sentence below is built from the metrics file it
quotes, so a rerun that moves a figure fails here until the reading is rewritten for it.
"""

import json
import re

import pytest
from repo import REPO

from syrac.storage import read_json
from syrac.tools import report
from syrac.tools.report import spread


def metrics(name: str) -> dict:
    return read_json(REPO / "metrics" / f"{name}.json")


def page(name: str) -> str:
    """The page on one line without bold marks: a sentence wraps anywhere, a table marks its best cell."""
    return " ".join((REPO / "docs" / name).read_text().replace("**", "").split())


def embedded_quotes() -> list[str]:
    """docs/embedded-results.md on the committed embedded run (seed 0)."""
    ev, peers, sparse, ablation = metrics("eval"), metrics("peers"), metrics("sparse_scenes"), metrics("ablation")
    s, d = ev["sim_sparse"], ev["sim_dense"]
    rank, end_to_end = ablation["synthetic_rank"], ablation["no_pretraining"]
    intra, untrained, oracle = ablation["intra_image_rank"], ablation["random_init_features"], ablation["oracle"]
    return [
        f"sim_sparse MAE {s['mae']:.1f} / Spearman {s['spearman']:.3f}, sim_dense {d['mae']:.1f} / {d['spearman']:.3f}",
        f"(MAE {peers['sim_sparse']['hog']['mae']:.0f} / {peers['sim_dense']['hog']['mae']:.0f} "
        f"against SYRAC's {s['mae']:.1f} / {d['mae']:.1f})",
        f"crops holding nobody are counted {sparse['sim_sparse']['0']['mean_count']:.1f} (sim_sparse) and "
        f"{sparse['sim_dense']['0']['mean_count']:.1f} (sim_dense), crops of 6 to 20 people about "
        f"{sparse['sim_sparse']['6-20']['mean_count']:.0f} and {sparse['sim_dense']['6-20']['mean_count']:.0f} "
        f"(true means {sparse['sim_sparse']['6-20']['mean_true']:.1f} and "
        f"{sparse['sim_dense']['6-20']['mean_true']:.1f})",
        f"(MAE {rank['sim_sparse']['mae']:.1f}, against {end_to_end['sim_sparse']['mae']:.1f} for training end to end",
        f"{intra['sim_sparse']['mae']:.1f} for intra-image ranking and {untrained['sim_sparse']['mae']:.1f} for the "
        "untrained encoder",
        f"({end_to_end['sim_dense']['mae']:.1f}, against {rank['sim_dense']['mae']:.1f} SYRAC, "
        f"{intra['sim_dense']['mae']:.1f} intra-image and {untrained['sim_dense']['mae']:.1f} untrained)",
        f"({oracle['sim_sparse']['mae']:.1f} / {oracle['sim_dense']['mae']:.1f} at seed 0)",
    ]


def tiling_quotes() -> list[str]:
    """docs/tiling.md: the embedded counter's table and the real profile's three seeds."""
    ev, probe, seeds = metrics("eval"), metrics("probe"), metrics("real/seeds")
    s, d = ev["sim_sparse"], ev["sim_dense"]

    def read_whole(bench: dict) -> str:
        return f"{bench['tiling']['finest_grid']['1']} of {bench['n_images']} read whole"

    quotes = [
        f"its ceiling is {probe['tiling']['ceiling']:.1f}",
        f"| the benchmark's K | {s['mae']:.1f} | {d['mae']:.1f} |",
        f"| own tiling | {s['tiling']['mae']:.1f} ({read_whole(s)}) | {d['tiling']['mae']:.1f} ({read_whole(d)}) |",
    ]
    rows = {"SHA": "shanghaitech_a", "SHB": "shanghaitech_b", "sim_sparse": "sim_sparse", "sim_dense": "sim_dense"}
    for short, name in rows.items():
        test = seeds[name]
        quotes.append(f"| {short}, test | {spread(test, 'mae')} | {spread(test['tiling'], 'mae')} |")
    for short in ("SHA", "SHB"):
        dev = seeds[rows[short]]["development"]
        grids = ", ".join(str(run["patches"]) for run in dev["seeds"].values())
        quotes.append(f"| {short}, development part | {spread(dev, 'mae')[:-1]}; K {grids}) | "
                      f"{spread(dev['tiling'], 'mae')} |")
    return quotes


def readme_quotes() -> list[str]:
    """README.md: a seed of the photo profile's time, from the perf run's record (perf/RESULTS.md tables it)."""
    record = read_json(REPO / "perf/results/cpu-intel-amx/results.json")["repro_photo"]
    stages = {name: run["seconds"] for name, run in record.items() if isinstance(run, dict)}
    headline = ("check", "synthesize_pairs", "cut_out_people", "synthesize_counting", "build_benchmarks", "pretrain",
                "extract_features", "probe", "choose_patches", "evaluate", "review_probes",
                "sparse_scenes")  # what --headline runs: the stages seeds.HEADLINE_STAGES need
    scans = stages["cut_out_people"] + stages["detect"]  # the detectors' passes: no seed changes them
    counter = sum(stages[name] for name in headline)
    return [f"a seed of it takes {record['total_seconds']:.0f} s on 2 idle Intel AMX cores (the records' machine), "
            f"every stage, {record['total_seconds'] - scans:.0f} s once the two detector passes",
            f"(`python -m syrac.tools.seeds --headline`) {counter:.0f} s of it, "
            f"{counter - stages['cut_out_people']:.0f} s with the photos' detector pass kept"]


def anchor_quotes() -> list[str]:
    """docs/count-scale.md, lever 5: the detector as an anchor, on the photo record's three seeds."""
    study = metrics("real/levers/detector_anchor")
    runs, summary = study["seeds"].values(), study["summary"]
    a, b = summary["shanghaitech_a_development"], summary["shanghaitech_b_development"]
    fifths_a, fifths_b = study["fifths"]["shanghaitech_a_development"], study["fifths"]["shanghaitech_b_development"]
    sparsest, densest = fifths_b[0], fifths_b[-1]
    found_on_a = max(fifth["detected_over_true"] for fifth in fifths_a)
    dev_b = "shanghaitech_b_development"
    speeds = metrics("real/peers")["shanghaitech_b"]
    behind = [a["midpoint"]["seeds"][seed]["mae"] - a["counter"]["seeds"][seed]["mae"] for seed in study["seeds"]]
    assert all(run["splits"][dev_b]["midpoint"]["mae"] < run["splits"][dev_b]["counter"]["mae"] for run in runs), \
        "the page says the midpoint is ahead on SHB at every seed"
    return [
        f"({min(r['anchor_images'] for r in runs)} to {max(r['anchor_images'] for r in runs)} a seed",
        f"({min(r['factor'] for r in runs):.2f} to {max(r['factor'] for r in runs):.2f})",
        f"reads {spread(a['anchored'], 'mae')} against the counter's {a['counter']['mean']['mae']:.1f}, SHB's "
        f"{spread(b['anchored'], 'mae')} against {b['counter']['mean']['mae']:.1f}",
        f"SHA's total falls to {a['anchored']['mean']['total_ratio']:.2f}",
        f"{a['lower_bound']['mean']['mae']:.1f} and {b['lower_bound']['mean']['mae']:.1f}",
        f"by {a['counter']['mean']['mae'] - a['lower_bound']['mean']['mae']:.3f} on SHA and "
        f"{b['counter']['mean']['mae'] - b['lower_bound']['mean']['mae']:.3f} on SHB",
        f"reads SHB's at {speeds['ssd_mobilenet_v2']['images_per_s']:.1f} a second where the counter reads "
        f"{speeds['syrac']['images_per_s']:.1f}",
        f"so about {1 / sum(1 / speeds[who]['images_per_s'] for who in ('ssd_mobilenet_v2', 'syrac')):.0f} photos",
        f"It moves {min(r['splits'][dev_b]['midpoint']['fires'] for r in runs)} to "
        f"{max(r['splits'][dev_b]['midpoint']['fires'] for r in runs)} of SHB's 80 development photos a seed",
        f"reads SHB's development part at {spread(b['midpoint'], 'mae')} against the counter's "
        f"{b['counter']['mean']['mae']:.1f}",
        f"its total {b['midpoint']['mean']['total_ratio']:.2f} ({b['counter']['mean']['total_ratio']:.2f}); SHA's at "
        f"{spread(a['midpoint'], 'mae')} against {a['counter']['mean']['mae']:.1f}",
        f"behind at every seed by {min(behind):.1f} to {max(behind):.1f}",
        f"Test splits (report): {summary['shanghaitech_a']['midpoint']['mean']['mae']:.1f} and "
        f"{summary['shanghaitech_b']['midpoint']['mean']['mae']:.1f} against "
        f"{summary['shanghaitech_a']['counter']['mean']['mae']:.1f} and "
        f"{summary['shanghaitech_b']['counter']['mean']['mae']:.1f}",
        f"it finds {sparsest['detected_over_true']:.2f} of the people in the sparsest fifth "
        f"({sparsest['true'][0]:.0f} to {sparsest['true'][1]:.0f}) and {densest['detected_over_true']:.2f} in the "
        f"densest ({densest['true'][0]:.0f} to {densest['true'][1]:.0f}), where the counter reads "
        f"{sparsest['read_over_true']:.2f} and {densest['read_over_true']:.2f}",
        f"it finds {found_on_a:.2f} or less at every fifth",
        f"(already at {fifths_a[-1]['read_over_true']:.2f})",
    ]


def own_tiling(run: dict, name: str, part: str = "development", readout: str | None = None) -> dict:
    """A benchmark's split of a ``syrac.tools.seeds`` summary on each image's own tiling, as the lever tables
    read it (the counter's own reading, or a named read-out)."""
    return report._lever_split(run, name, part, readout)["tiling"]


def seeds_behind(lever: dict, reference: dict) -> list[str]:
    """The seeds at which one split (``own_tiling``'s) reads a higher MAE than the other's: where a lever is behind."""
    return [seed for seed in "012" if lever["seeds"][seed]["mae"] > reference["seeds"][seed]["mae"]]


def machine_kind_quotes() -> list[str]:
    """docs/count-scale.md, lever 9: the adopted photo profile's seed 1 on the Zen 3 machine beside the record's."""
    zen3, intel = metrics("real/levers/zen3_adopted_seed1"), metrics("real/levers/people_removals_area01_seeds")

    def at_seed_1(run: dict, name: str, part: str) -> dict:
        return own_tiling(run, name, part)["seeds"]["1"]

    a, b = (at_seed_1(zen3, n, "development") for n in ("shanghaitech_a", "shanghaitech_b"))
    a0, b0 = (at_seed_1(intel, n, "development") for n in ("shanghaitech_a", "shanghaitech_b"))
    ta, tb = (at_seed_1(zen3, n, "test") for n in ("shanghaitech_a", "shanghaitech_b"))
    ta0, tb0 = (at_seed_1(intel, n, "test") for n in ("shanghaitech_a", "shanghaitech_b"))
    assert zen3["machine"]["cpu_family"].startswith("Zen 3") and not zen3["machine"]["native_bf16"]
    return [
        f"{a['mae']:.1f} against the Intel seed 1's {a0['mae']:.1f}, its total {a['total_ratio']:.2f} "
        f"({a0['total_ratio']:.2f}); SHB's {b['mae']:.1f} against {b0['mae']:.1f}, its total "
        f"{b['total_ratio']:.2f} ({b0['total_ratio']:.2f}); the test splits {ta['mae']:.1f} and {tb['mae']:.1f} "
        f"({ta0['mae']:.1f} and {tb0['mae']:.1f})",
        f"It took {zen3['minutes_per_seed']['1']:.1f} minutes on the idle cores",
        *three_seed_quotes(intel),
    ]


def three_seed_quotes(intel: dict) -> list[str]:
    """docs/count-scale.md, lever 9: the Zen 3 rerun's three seeds (seed 0's own run, every seed's counter as
    the read-out screen reproduces it) beside the Intel record's."""
    seed0, screens = metrics("real/levers/zen3_adopted_seed0"), metrics("real/levers/zen3_readout_screens_seeds")
    assert seed0["machine"]["cpu_family"].startswith("Zen 3") and not seed0["machine"]["native_bf16"]

    def counter(run: dict, name: str, part: str, at: str) -> dict:
        reading = own_tiling(run, name, part, "counter" if run is screens else None)
        return reading["mean"] if at == "mean" else reading["seeds"][at]

    own0 = {n: counter(seed0, n, "development", "0")["mae"] for n in ("shanghaitech_a", "shanghaitech_b")}
    intel0 = {n: counter(intel, n, "development", "0")["mae"] for n in ("shanghaitech_a", "shanghaitech_b")}
    z = {(n, part): counter(screens, n, part, "mean") for n in ("shanghaitech_a", "shanghaitech_b")
         for part in ("development", "test")}
    i = {(n, part): counter(intel, n, part, "mean") for n in ("shanghaitech_a", "shanghaitech_b")
         for part in ("development", "test")}
    da, db = ("shanghaitech_a", "development"), ("shanghaitech_b", "development")
    ta, tb = ("shanghaitech_a", "test"), ("shanghaitech_b", "test")
    return [
        f"seed 0 took {seed0['minutes_per_seed']['0']:.1f} minutes",
        f"(seed 0: SHA {own0['shanghaitech_a']:.1f} against {intel0['shanghaitech_a']:.1f}, SHB "
        f"{own0['shanghaitech_b']:.1f} against {intel0['shanghaitech_b']:.1f})",
        f"SHA's development part {z[da]['mae']:.1f} (Intel: {i[da]['mae']:.1f}), its total {z[da]['total_ratio']:.2f} "
        f"({i[da]['total_ratio']:.2f}); SHB's {z[db]['mae']:.1f} ({i[db]['mae']:.1f}), its total "
        f"{z[db]['total_ratio']:.2f} ({i[db]['total_ratio']:.2f}); the test splits {z[ta]['mae']:.1f} and "
        f"{z[tb]['mae']:.1f} ({i[ta]['mae']:.1f} and {i[tb]['mae']:.1f})",
    ]


def inpainting_quotes() -> list[str]:
    """docs/count-scale.md, levers 17 and 18: four copies of each photo, and a twentieth of each inpainted, beside
    the adopted one copy at a tenth (lever 9), seed by seed; and lever 9's seed 1 rerun at today's code."""
    one = metrics("real/levers/people_removals_area01_seeds")
    four, twentieth = (metrics(f"real/levers/people_removals_{name}_seeds") for name in ("four", "area005"))
    rerun = metrics("real/levers/people_removals_area01_seed1_rerun")
    assert four["machine"] == twentieth["machine"] == one["machine"]  # held against the record on its CPU kind

    def behind_at(lever: dict, name: str) -> list[str]:
        return seeds_behind(own_tiling(lever, name), own_tiling(one, name))

    for name in ("shanghaitech_a", "shanghaitech_b"):  # "equals the record's seed 1 in every figure to the last bit"
        for part in ("development", "test"):
            assert own_tiling(rerun, name, part)["seeds"]["1"] == own_tiling(one, name, part)["seeds"]["1"]
        assert rerun[name]["seeds"]["1"] == one[name]["seeds"]["1"]
        assert rerun[name]["development"]["seeds"]["1"] == one[name]["development"]["seeds"]["1"]
    # the verdicts the prose gives, seed by seed
    assert behind_at(four, "shanghaitech_a") == ["0", "1", "2"] and behind_at(four, "shanghaitech_b") == ["0", "1"]
    assert behind_at(twentieth, "shanghaitech_a") == ["0", "1", "2"] and behind_at(twentieth, "shanghaitech_b") == []

    a, b, a1, b1 = (own_tiling(run, n) for run in (four, one) for n in ("shanghaitech_a", "shanghaitech_b"))
    ta, minutes = own_tiling(four, "shanghaitech_a", "test"), four["minutes_per_seed"]
    totals = [f"{a['seeds'][seed]['total_ratio']:.2f}" for seed in "012"]
    h_a, h_b = (own_tiling(twentieth, n) for n in ("shanghaitech_a", "shanghaitech_b"))
    h_ta, h_tb = (own_tiling(twentieth, n, "test") for n in ("shanghaitech_a", "shanghaitech_b"))
    t1a, t1b = (own_tiling(one, n, "test") for n in ("shanghaitech_a", "shanghaitech_b"))
    return [
        f"development part {spread(a, 'mae')} against lever 9's {a1['mean']['mae']:.1f}, behind at every seed; "
        f"its total swings with the seed again ({totals[0]}, {totals[1]} and {totals[2]}), where one copy held it "
        f"at {a1['min']['total_ratio']:.2f} to {a1['max']['total_ratio']:.2f}. The test split "
        f"{ta['mean']['mae']:.1f}; seed 0 reads it at {ta['seeds']['0']['mae']:.1f}",
        f"development part {spread(b, 'mae')} against {b1['mean']['mae']:.1f}, its total "
        f"{b['mean']['total_ratio']:.2f}; ahead at seed 2 only ({b['seeds']['2']['mae']:.1f} against "
        f"{b1['seeds']['2']['mae']:.1f})",
        f"{minutes['0']:.1f} and {minutes['2']:.1f} minutes a seed (seeds 0 and 2) on the idle cores; seed 1's "
        f"{minutes['1']:.1f}",
        f"(`people_removals_area01_seed1_rerun.json`, {rerun['minutes_per_seed']['1']:.1f} minutes)",
        f"{twentieth['minutes_per_seed']['0']:.1f}, {twentieth['minutes_per_seed']['1']:.1f} and "
        f"{twentieth['minutes_per_seed']['2']:.1f} minutes a seed",
        f"development part {spread(h_a, 'mae')} against lever 9's {a1['mean']['mae']:.1f}, behind at every seed; its "
        f"total falls to {h_a['mean']['total_ratio']:.2f} ({a1['mean']['total_ratio']:.2f}), the seeds agreeing "
        f"({h_a['min']['total_ratio']:.2f} to {h_a['max']['total_ratio']:.2f}). Test split {h_ta['mean']['mae']:.1f} "
        f"against {t1a['mean']['mae']:.1f}",
        f"development part {spread(h_b, 'mae')} against {b1['mean']['mae']:.1f}, ahead at every seed",
        f"its total {h_b['mean']['total_ratio']:.2f} ({b1['mean']['total_ratio']:.2f}). Test split "
        f"{h_tb['mean']['mae']:.1f} against {t1b['mean']['mae']:.1f}",
    ]


def removal_anchor_quotes() -> list[str]:
    """docs/count-scale.md, lever 19: the removal differences as anchors of the probe, screened on the record's
    seeds rerun, which its counter row reproduces to the last figure."""
    screens = metrics("real/levers/removal_anchors_screens_seeds")
    one = metrics("real/levers/people_removals_area01_seeds")
    seeds = [metrics(f"real/levers/removal_anchors_screens/seed_{seed}") for seed in "012"]
    assert screens["machine"]["cpu"] == one["machine"]["cpu"]
    for name in ("shanghaitech_a", "shanghaitech_b"):
        for part in ("development", "test"):
            screened = own_tiling(screens, name, part, "counter")["seeds"]
            assert {seed: screened[seed]["mae"] for seed in "012"} == {
                seed: own_tiling(one, name, part)["seeds"][seed]["mae"] for seed in "012"}
    read = [source["read_per_person"] for run in seeds for source in run["removal_anchors"]["counter"].values()]
    sources = seeds[0]["removal_anchors"]["counter"]
    photos, people = ([sources[f"datasets/ShanghaiTech/part_{part}/train_data"][key] for part in "AB"]
                      for key in ("photos", "people"))
    weights = ("removals_0.01", "removals_0.1", "removals_1")
    a, b = ({v: own_tiling(screens, name, readout=v) for v in ("counter", "removals_rescale", *weights)}
            for name in ("shanghaitech_a", "shanghaitech_b"))
    for variant in ("removals_rescale", *weights):  # "behind at every seed and weight"
        assert seeds_behind(a[variant], a["counter"]) == ["0", "1", "2"]
    assert seeds_behind(b["counter"], b["removals_0.01"]) == ["0", "1"]  # ahead at seeds 0 and 1
    maes, totals = ([f"{a[v]['mean'][key]:{form}}" for v in weights] for key, form in (("mae", ".1f"),
                                                                                    ("total_ratio", ".2f")))
    return [
        f"({photos[0]} of SHA's and {photos[1]} of SHB's, {people[0]} and {people[1]} people)",
        f"reads each removed person as {min(read):.1f} to {max(read):.1f} people",
        f"reads {maes[0]}, {maes[1]} and {maes[2]} at the three weights against the counter's "
        f"{a['counter']['mean']['mae']:.1f}, its total falling to {totals[0]}, {totals[1]} and {totals[2]}; the "
        f"rescaled probe {a['removals_rescale']['mean']['mae']:.1f}",
        f"reads {spread(b['removals_0.01'], 'mae')} at a hundredth of the weight against "
        f"{b['counter']['mean']['mae']:.1f}, ahead at seeds 0 and 1, behind at seed 2; "
        f"{b['removals_0.1']['mean']['mae']:.1f} and {b['removals_1']['mean']['mae']:.1f} at the larger weights",
    ]


def within_share_quotes() -> list[str]:
    """docs/count-scale.md, lever 20: every copy within its share, seed by seed beside the record (lever 9)."""
    within, one = metrics("real/levers/people_within_seeds"), metrics("real/levers/people_removals_area01_seeds")
    assert within["machine"]["cpu"] == one["machine"]["cpu"]
    a, b, a1, b1 = (own_tiling(run, n) for run in (within, one) for n in ("shanghaitech_a", "shanghaitech_b"))
    assert seeds_behind(a, a1) == ["0", "1"] and seeds_behind(b, b1) == ["1"]  # the verdicts the prose gives
    ta, tb = (own_tiling(within, n, "test")["mean"]["mae"] for n in ("shanghaitech_a", "shanghaitech_b"))
    minutes = within["minutes_per_seed"]
    return [
        f"{minutes['0']:.1f} and {minutes['2']:.1f} minutes a seed, seed 1's {minutes['1']:.1f} with the detector's "
        "scan and a test run on the same cores",
        f"development part {spread(a, 'mae')} against lever 9's {a1['mean']['mae']:.1f}, behind at seeds 0 and 1",
        "its total swings with the seed (" + ", ".join(f"{a['seeds'][s]['total_ratio']:.2f}" for s in "01")
        + f" and {a['seeds']['2']['total_ratio']:.2f}). Test split {ta:.1f} against",
        f"development part {spread(b, 'mae')} against {b1['mean']['mae']:.1f}, ahead at seeds 0 and 2, behind at "
        f"seed 1 ({b['seeds']['1']['mae']:.1f}, its total {b['seeds']['1']['total_ratio']:.2f}). Test split {tb:.1f}",
        f"Seed 2 reads both near their totals ({a['seeds']['2']['total_ratio']:.2f} and "
        f"{b['seeds']['2']['total_ratio']:.2f})",
    ]


def unit_ratios(a: dict, b: dict) -> list[float]:
    """SHB's predicted/true total over SHA's at each seed, from the two benchmarks' per-seed summaries."""
    return [b[seed]["total_ratio"] / a[seed]["total_ratio"] for seed in sorted(a)]


def unit_ratio_quotes() -> list[str]:
    """docs/count-scale.md, the reading of the units table: SHA's totals and SHB's over SHA's in every run
    ``report.UNIT_RUNS`` names, seed by seed."""
    per_run, shas = [], []  # SHB's total over SHA's per run and seed; SHA's totals
    for _, name, readout in report.UNIT_RUNS:
        a, b = (report._lever_split(metrics(name), n, "development", readout)["tiling"]["seeds"]
                for n in ("shanghaitech_a", "shanghaitech_b"))
        per_run.append(unit_ratios(a, b))
        shas += [a[seed]["total_ratio"] for seed in a]
    ratios = [r for run in per_run for r in run]
    means = [sum(run) / len(run) for run in per_run]
    near = [i for i, run in enumerate(per_run) for r in run if r <= 1.25]
    assert all(sum(r <= 1.25 for r in per_run[i]) == 1 for i in near)  # "each in a run whose other seeds..."
    return [
        f"SHA's development total goes from {min(shas):.2f} to {max(shas):.2f} across runs and seeds",
        f"SHB's total over SHA's is {min(means):.2f} to {max(means):.2f} at the three-seed mean of every run",
        f"1.25 or less at {len(near)} of the {len(ratios)} seeds",
        f"SHA at 0.8 of its total reads SHB at {0.8 * min(means):.2f} to {0.8 * max(means):.2f} of its own, and SHB "
        f"at its count reads SHA at {1 / max(means):.2f} to {1 / min(means):.2f}",
    ]


def zen3_encode_quotes() -> list[str]:
    """perf/RESULTS.md, Zen 3: a photo rank step in fp32, and extract_features at 64 and at 16 patches a pass,
    from its results file."""
    results = read_json(REPO / "perf/results/cpu-amd-zen3/results.json")
    batching, first, second = results["extract_features_batching"], results["photo_step_earlier"], results["photo_step"]
    before, after, again = (batching["seconds"][run] for run in batching["order"])

    def row(label: str, key: str) -> str:
        return f"| {label} | {first[key]:.2f} | {second[key]:.2f} |"

    return [row("the whole step, as `pretrain.rank_epoch` runs it (s)", "step_s"),
            row("the network alone on the same batch (s)", "network_alone_step_s"),
            f"| the step over the network alone | {first['step_over_network_alone']:.2f}x | "
            f"{second['step_over_network_alone']:.2f}x |",
            f"| seconds | {before:.1f} | {after:.1f} | {again:.1f} |",
            f"runs {min(before, again) / after:.2f} to {max(before, again) / after:.2f} times as fast",
            f"differ by {abs(before - again):.0f} s"]


def labelled_bound() -> dict:
    """The oracle probes against the counter on the test splits (own tiling, three-seed means), from the combined
    screens of the record's three seeds, whose counter rows are the record's."""
    bound = metrics(report.ORACLE_SCREENS)
    record = metrics("real/levers/people_removals_area01_seeds")

    def test(name: str, readout: str) -> dict:
        return bound["readouts"]["test"][name][readout]["tiling"]

    for name in ("shanghaitech_a", "shanghaitech_b"):
        assert test(name, "counter")["mean"]["mae"] == record[name]["tiling"]["mean"]["mae"]

    def ratio(readout: str) -> float:  # SHB's total over SHA's, the mean over seeds
        per_seed = unit_ratios(*(test(n, readout)["seeds"] for n in ("shanghaitech_a", "shanghaitech_b")))
        return sum(per_seed) / len(per_seed)

    return {f"{n[-1]}_{readout}": test(n, readout)["mean"] for n in ("shanghaitech_a", "shanghaitech_b")
            for readout in ("counter", "oracle_joint", "oracle_own")} | {
        "ratio_joint": ratio("oracle_joint"), "ratio_counter": ratio("counter")}


def labelled_bound_quotes() -> list[str]:
    """docs/count-scale.md, the labelled bound."""
    f = labelled_bound()
    a, b, counter_a = f["a_oracle_joint"], f["b_oracle_joint"], f["a_counter"]
    return [
        f"reads SHA's test split at {a['mae']:.1f} and {a['total_ratio']:.2f} of its total, SHB's at {b['mae']:.1f} "
        f"and {b['total_ratio']:.2f}: SHB's total over SHA's is {f['ratio_joint']:.2f} at the three-seed mean, "
        f"against the counter's {f['ratio_counter']:.2f} on the same splits",
        f"the labelled probe reads SHA within {counter_a['mae'] - a['mae']:.0f} of the counter ({a['mae']:.1f} against "
        f"{counter_a['mae']:.1f})",
        f"SHB's error falls only with a probe of its own ({f['b_oracle_own']['mae']:.1f} against the joint probe's "
        f"{b['mae']:.1f}), which reads SHA worse ({f['a_oracle_own']['mae']:.1f})",
    ]


def readme_bound_quotes() -> list[str]:
    """README.md, what is left of the scale: the labelled bound's figures."""
    f = labelled_bound()
    a, b = f["a_oracle_joint"], f["b_oracle_joint"]
    return [f"(SHA at {a['total_ratio']:.2f} of its total, SHB at {b['total_ratio']:.2f}) and SHA no better than the "
            f"counter ({a['mae']:.1f} against {f['a_counter']['mae']:.1f})"]


def intel_encode_quotes() -> list[str]:
    """perf/RESULTS.md, Intel AMX: the encoder at each number of patches a pass, and extract_features at 64,
    16 and 64 again, from its results file."""
    results = read_json(REPO / "perf/results/cpu-intel-amx/results.json")
    per_call, batching = results["encode_batch"]["per_call"], results["extract_features_batching"]
    assert results["encode_batch"]["default_batch"] == 16 and batching["same_bytes"]
    assert all(run["same_features"] for run in per_call.values())
    before, after, again = (batching["seconds"][run] for run in batching["order"])
    rate = {n: per_call[n]["patches_per_s"] for n in per_call}
    return ["| patches/s | " + " | ".join(f"{rate[n]:.1f}" for n in ("1", "4", "8", "16", "32", "64", "128")) + " |",
            f"16 a pass is fastest, {rate['16'] / rate['64']:.2f} times as fast as 64",
            f"| seconds | {before:.1f} | {after:.1f} | {again:.1f} |",
            f"runs {min(before, again) / after:.2f} to {max(before, again) / after:.2f} times as fast"]


def intel_seed_quotes() -> list[str]:
    """perf/RESULTS.md, Intel AMX: a seed of the photo profile stage by stage beside Zen 4's of 2026-12-05."""
    here = read_json(REPO / "perf/results/cpu-intel-amx/results.json")["repro_photo"]
    zen4 = read_json(REPO / "perf/results/cpu/results.json")["repro_photo"]

    def seconds(record: dict, names: tuple[str, ...]) -> str:
        return ", ".join(f"{record[name]['seconds']:.1f}" for name in names)

    ablation, review = ("end_to_end", "fine_tune", "ablation"), ("review_ranking", "review_probes")
    kept = here["total_seconds"] - here["cut_out_people"]["seconds"] - here["detect"]["seconds"]
    table = ("pretrain", "detect", "pretrain_intra", "extract_features", *ablation, *review)
    assert [name for name in table if zen4[name]["seconds"] <= here[name]["seconds"]] == ["review_probes"]
    return [f"| `pretrain` | {seconds(here, ('pretrain',))} | {seconds(zen4, ('pretrain',))} |",
            f"| {seconds(here, ('cut_out_people',))} | (not in the profile then) |",
            f"| `pretrain_intra` | {seconds(here, ('pretrain_intra',))} | {seconds(zen4, ('pretrain_intra',))} |",
            f"| `extract_features` | {seconds(here, ('extract_features',))} | {seconds(zen4, ('extract_features',))} |",
            f"| {seconds(here, ablation)} | {seconds(zen4, ablation)} |",
            f"| {seconds(here, review)} | {seconds(zen4, review)} |",
            f"| all stages | {here['total_seconds']:.0f} ({here['total_seconds'] / 60:.1f} min) | "
            f"{zen4['total_seconds']:.0f} ({zen4['total_seconds'] / 60:.1f} min) |",
            f"a seed takes {kept:.0f} s ({kept / 60:.1f} min) here",
            f"It ran the profile without the copies in {zen4['total_seconds']:.0f} s"]


def authors_augmentations_quotes() -> list[str]:
    """docs/real-photographs.md, issue 43's item 3: the authors' augmentations on the adopted counter, three seeds
    beside the record's."""
    lever, record = metrics("real/levers/authors_augmentations_lever9_seeds"), metrics(
        "real/levers/people_removals_area01_seeds")
    assert lever["machine"] == record["machine"]  # held against the record on its CPU kind
    names = ("shanghaitech_a", "shanghaitech_b")
    for name in names:  # "behind at every seed"
        assert seeds_behind(own_tiling(lever, name), own_tiling(record, name)) == ["0", "1", "2"]
    here, there = ([own_tiling(run, n)["mean"] for n in names] for run in (lever, record))
    seeds = [[run["mae"] for run in own_tiling(lever, n)["seeds"].values()] for n in names]
    return [f"read at {here[0]['mae']:.1f} on SHA and {here[1]['mae']:.1f} on SHB against the adopted counter's "
            f"{both(there, 'mae', 1)}",
            f"(SHA {min(seeds[0]):.1f} to {max(seeds[0]):.1f}, SHB {min(seeds[1]):.1f} to {max(seeds[1]):.1f})",
            f"(totals {both(here, 'total_ratio', 2)} against {both(there, 'total_ratio', 2)})",
            f"Spearman {here[0]['spearman']:.3f} on SHA's development part and {here[1]['spearman']:.3f} on SHB's "
            f"against {both(there, 'spearman', 3)}",
            f"({lever['shanghaitech_a']['development']['mean']['zoom_out']:.2f} on SHA's, of 4, against "
            f"{record['shanghaitech_a']['development']['mean']['zoom_out']:.2f})"]


def intel_step_quotes() -> list[str]:
    """perf/RESULTS.md, Intel AMX: the photo rank step, the network alone and its three cheaper variants."""
    step = read_json(REPO / "perf/results/cpu-intel-amx/results.json")["photo_step"]
    alone = step["network_alone_step_s"]
    variants = step["network_alone_variants"]
    steps = 2 * metrics("real/pretrain")["train_pairs"] // step["batch_pairs"]
    assert steps == 190 and 25 < steps * (alone - variants["compiled"]["step_s"]) < 35  # "about half a minute"
    assert steps * (alone - variants["compiled"]["step_s"]) < variants["compiled"]["first_step"]

    def row(name: str) -> str:
        return f"| {variants[name]['step_s']:.2f} | {variants[name]['step_s'] / alone:.2f}x |"

    return [f"| the whole step (its data: {step['data_share']:.0%} of it) | {step['step_s']:.2f} | "
            f"{step['step_over_network_alone']:.2f}x |",
            f"| the network alone, as trained | {alone:.2f} | |",
            f"(`pretrain.frozen_stages: 1`) {row('frozen_stages_1')}",
            f"(`pretrain.frozen_stages: 2`) {row('frozen_stages_2')}",
            f"compiling from scratch, {variants['compiled']['first_step']:.1f} s) {row('compiled')}"]


def both(readings: list[dict], key: str, digits: int) -> str:
    """One figure of SHA's reading and SHB's, as the prose pairs them: "x and y"."""
    return " and ".join(f"{reading[key]:.{digits}f}" for reading in readings)


def at_seed_1_beside_record(name: str) -> tuple[dict[str, list[dict]], list[float]]:
    """A one-seed photo lever (seed 1) and the record's seed 1: their development parts (SHA, SHB; own tiling)
    under "lever" and "record", and the record's three-seed development means."""
    lever, record = metrics(name), metrics("real/levers/people_removals_area01_seeds")
    assert lever["machine"] == record["machine"]  # held against the record on its CPU kind
    names = ("shanghaitech_a", "shanghaitech_b")
    dev = {run: [own_tiling(summary, n)["seeds"]["1"] for n in names]
           for run, summary in (("lever", lever), ("record", record))}
    return dev, [own_tiling(record, n)["mean"]["mae"] for n in names]


def training_length_again_quotes() -> list[str]:
    """docs/real-photographs.md, issue 43's item 3 on lever 9: seed 1 trained up to 15 epochs beside the record's."""
    dev, record_means = at_seed_1_beside_record("real/levers/training_length_lever9_seed1")
    zooms = {run: [metrics(name)[n]["development"]["seeds"]["1"]["zoom_out"]
                   for n in ("shanghaitech_a", "shanghaitech_b")]
             for run, name in (("lever", "real/levers/training_length_lever9_seed1"),
                               ("record", "real/levers/people_removals_area01_seeds"))}
    run = metrics("real/levers/training_length_lever9_history")["seeds"]["1"]
    losses = [epoch["holdout_ranking_loss"] for epoch in run["history"]]
    assert run["best_epoch"] == losses.index(min(losses)) + 1 == run["epochs_run"] - 2  # patience 2 stopped it
    needed = (3 * record_means[0] - dev["lever"][0]["mae"]) / 2
    lowest = min(seed["mae"] for _, summary, readout in report.UNIT_RUNS
                 for seed in own_tiling(metrics(summary), "shanghaitech_a", readout=readout)["seeds"].values())
    assert needed < lowest and dev["lever"][1]["mae"] > dev["record"][1]["mae"]

    return [f"The held-out loss fell to {min(losses):.3f} at epoch {run['best_epoch']} and patience stopped the run "
            f"after epoch {run['epochs_run']}, keeping epoch {run['best_epoch']}",
            f"SHA's development part reads at {dev['lever'][0]['mae']:.1f} and SHB's at {dev['lever'][1]['mae']:.1f} "
            f"against the adopted counter's {both(dev['record'], 'mae', 1)} at that seed",
            f"(zoom-out {zooms['lever'][0]:.2f} on SHA's development part and {zooms['lever'][1]:.2f} on SHB's, "
            f"against {zooms['record'][0]:.2f} and {zooms['record'][1]:.2f})",
            f"(totals {both(dev['lever'], 'total_ratio', 2)}, against {both(dev['record'], 'total_ratio', 2)})",
            f"below the adopted {record_means[0]:.1f} would need them to average {needed:.1f}",
            f"(the lowest, {lowest:.1f})"]


def frozen_stem_quotes() -> list[str]:
    """docs/real-photographs.md, issue 43's speed lever: the photo rank step and what its network could shed, from
    perf's Intel results, and the frozen stem's seed 1 beside the record's same seed."""
    step = read_json(REPO / "perf/results/cpu-intel-amx/results.json")["photo_step"]
    variants = {name: run["step_s"] for name, run in step["network_alone_variants"].items()}
    dev, record_means = at_seed_1_beside_record("real/levers/frozen_stem_seed1")
    sha_record, shb_record = record_means
    assert 3 * shb_record - dev["lever"][1]["mae"] < 0 and dev["lever"][0]["mae"] > sha_record  # "sum below zero"

    return [f"the step takes {step['step_s']:.2f} s, its data {step['data_share']:.0%} of it, the network alone "
            f"{step['network_alone_step_s']:.2f} s",
            f"the network alone takes {variants['frozen_stages_1']:.2f} s a step; with layer1 kept too, "
            f"{variants['frozen_stages_2']:.2f} s",
            f"takes {variants['compiled']:.2f} s a step after "
            f"{step['network_alone_variants']['compiled']['first_step']:.1f} s of compiling",
            f"read SHA's development part at {dev['lever'][0]['mae']:.1f} and SHB's at {dev['lever'][1]['mae']:.1f}, "
            f"against the adopted counter's {dev['record'][0]['mae']:.1f} and {dev['record'][1]['mae']:.1f}",
            f"(totals {both(dev['lever'], 'total_ratio', 2)} against {both(dev['record'], 'total_ratio', 2)})",
            f"(Spearman {both(dev['lever'], 'spearman', 3)} against {both(dev['record'], 'spearman', 3)})",
            f"below the adopted {shb_record:.1f}"]


def intel_embedded_quotes() -> list[str]:
    """perf/RESULTS.md, Intel AMX: the embedded default's dvc repro stage by stage."""
    record = read_json(REPO / "perf/results/cpu-intel-amx/results.json")["repro"]
    stages = {name: run["seconds"] for name, run in record.items() if isinstance(run, dict)}
    trainings = ("pretrain", "pretrain_intra", "fine_tune", "end_to_end")
    trained = sum(stages[name] for name in trainings)
    named = (*trainings, "review_probes", "review_ranking", "ablation", "synthesize_pairs")
    others = [seconds for name, seconds in stages.items() if name not in named]
    assert len(others) == 14 and max(others) < 35  # "each of the other fourteen stages under 35 s"
    return [f"{record['total_seconds']:.0f} s ({record['total_seconds'] / 60:.1f} min) in all",
            f"The four trainings take {trained:.0f} s of it ({trained / record['total_seconds']:.0%}): "
            + ", ".join(f"`{name}` {stages[name]:.1f}" for name in trainings[:3])
            + f" and `end_to_end` {stages['end_to_end']:.1f}; then "
            + ", ".join(f"`{name}` {stages[name]:.1f}" for name in ("review_probes", "review_ranking", "ablation"))
            + f" and `synthesize_pairs` {stages['synthesize_pairs']:.1f}"]


@pytest.mark.parametrize("name, quotes", [("embedded-results.md", embedded_quotes), ("tiling.md", tiling_quotes),
                                         ("../README.md", readme_quotes), ("count-scale.md", anchor_quotes),
                                         ("count-scale.md", machine_kind_quotes),
                                         ("count-scale.md", inpainting_quotes),
                                         ("count-scale.md", removal_anchor_quotes),
                                         ("count-scale.md", within_share_quotes),
                                         ("count-scale.md", unit_ratio_quotes),
                                         ("count-scale.md", labelled_bound_quotes),
                                         ("../README.md", readme_bound_quotes),
                                         ("../perf/RESULTS.md", zen3_encode_quotes),
                                         ("../perf/RESULTS.md", intel_encode_quotes),
                                         ("../perf/RESULTS.md", intel_seed_quotes),
                                         ("../perf/RESULTS.md", intel_embedded_quotes),
                                         ("../perf/RESULTS.md", intel_step_quotes),
                                         ("real-photographs.md", frozen_stem_quotes),
                                         ("real-photographs.md", authors_augmentations_quotes),
                                         ("real-photographs.md", training_length_again_quotes)])
def test_a_doc_quotes_the_committed_metrics(name, quotes):
    text = page(name)
    missing = [quote for quote in quotes() if quote not in text]
    assert not missing, f"docs/{name} no longer quotes these figures of the committed metrics: {missing}"


# Figures from outside the committed runs that the prose may quote, each named where it is quoted:
# the paper's tables (syrac.tools.report) and the authors' follow-up, AFreeCA (ECCV 2024).
OUTSIDE = {"AFreeCA": (152.7, 35.0)}
HISTORY = "real-history.md"  # dated history: each section names the machine and commit it ran on
FIGURE = re.compile(r"(?<![\d.])\d{2,}\.\d(?!\d)")


def committed_values() -> set[float]:
    """Every number of the committed metrics, plots, perf results and shipped counter's record, to one decimal."""
    values = set()

    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            values.add(round(float(x), 1))

    for folder in ("metrics", "plots", "perf", "syrac/counters"):  # the last: the shipped counter's record
        for path in (REPO / folder).rglob("*"):
            if path.suffix == ".json":
                walk(json.loads(path.read_text()))
            elif path.suffix in (".csv", ".tsv"):
                for cell in re.split(r"[,\t\n]", path.read_text()):
                    try:
                        values.add(round(float(cell), 1))
                    except ValueError:
                        pass
    return values


def quoted_values() -> set[float]:
    tables = (report.PAPER_TABLE_1, report.PAPER_TABLE_2, report.PAPER_TABLE_3)
    paper = {v for table in tables for row in table.values() for pair in row.values() for v in pair}
    return paper | {v for figures in OUTSIDE.values() for v in figures}


def prose(path) -> str:
    """A page less its generated blocks (test_report keeps those equal to the metrics)."""
    return re.sub(r"<!-- (\S+):start -->.*?<!-- \1:end -->", "", path.read_text(), flags=re.S)


def test_every_figure_in_the_prose_is_a_committed_value_or_a_named_outside_one():
    known = committed_values() | quoted_values()
    unknown = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        if path.name == HISTORY:
            continue
        text = prose(path)
        unknown += [f"{path.name}:{text[:m.start()].count(chr(10)) + 1}: {m.group()}" for m in FIGURE.finditer(text)
                    if float(m.group()) not in known]
    assert not unknown, f"figures no committed run wrote (derive them in a test or cut them): {unknown}"


def test_the_dated_history_names_the_machine_and_commit_of_each_section():
    sections = re.split(r"\n(?=##+ )", (REPO / "docs" / HISTORY).read_text())[1:]
    for section in sections:
        title = section.splitlines()[0]
        assert re.search(r"\b[0-9a-f]{7,40}\b", section), f"{title}: no commit named"
        assert re.search(r"Intel|AMD|Zen", section), f"{title}: no machine named"
