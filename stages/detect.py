"""Stage: off-the-shelf person detectors count every benchmark image, for stage peers to set beside SYRAC.

Their counts depend on the images and the detectors alone, never on the counter, so they are a stage of
their own: a new counter (another seed, a lever) reruns peers, which reads them here, and leaves the
detectors alone (their recount was about 3 of the 5.4 minutes of peers in a seed of the photo profile,
perf/RESULTS.md). Each detector's speed is measured here, decoding included, with the machine named."""

from syrac import config, storage
from syrac.data.benchmarks import read_manifest
from syrac.method.model import machine
from syrac.studies import peers

if __name__ == "__main__":
    args = config.stage_paths("bench_root", "out_dir")
    cfg = config.load_for_stage()
    detectors = {name: peers.load(name) for name in cfg.peers.detectors}
    speeds = {}
    for name in cfg.benchmarks:
        names, paths = read_manifest(args.bench_root / name)
        counted = {detector: peers.count_images(model, paths, f"{detector}: {name}")
                   for detector, model in detectors.items()}
        rows = [[image, *(int(counts[i]) for counts, _ in counted.values())] for i, image in enumerate(names)]
        storage.write_csv(args.out_dir / f"{name}.csv", ["image", *counted], rows)
        speeds[name] = {detector: speed for detector, (_, speed) in counted.items()}
    storage.write_json(args.out_dir / peers.SPEEDS, {**speeds, "machine": machine()})
