"""Figures the docs' prose quotes from the committed metrics are those metrics.

The tables of the README and the real pages are generated blocks (test_report keeps them current);
the readings around them quote figures by hand. Each sentence below is built from the metrics file it
quotes, so a rerun that moves a figure fails here until the reading is rewritten for it.
"""

import pytest
from repo import REPO

from syrac.report import spread
from syrac.storage import read_json


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


@pytest.mark.parametrize("name, quotes", [("embedded-results.md", embedded_quotes), ("tiling.md", tiling_quotes)])
def test_a_doc_quotes_the_committed_metrics(name, quotes):
    text = page(name)
    missing = [quote for quote in quotes() if quote not in text]
    assert not missing, f"docs/{name} no longer quotes these figures of the committed metrics: {missing}"
