"""Speed and memory of syrac, each figure beside its baseline measured in the same run.

    python perf/run.py                 # everything; on CPU the model benchmarks run at a tiny size
    python perf/run.py --only generation pretrain inference memory
    python perf/run.py --only repro    # the embedded `dvc repro`, stage by stage (minutes)
    python perf/run.py --only repro_photo photo_step  # one seed of the photo profile, stage by stage (an hour)
    python perf/run.py --only tiling   # after `dvc repro`: `syrac count`'s own tiling against a 2x2 grid

Prints a table and writes perf/results/<device>/results.json (``--results FOLDER``: another folder, for a
kind of machine whose figures should not mix with that file's). Sections:

- repro: wall time and peak memory of every stage of the embedded DAG, run in a scratch copy.
- repro_photo: the same for one seed of the ``shanghaitech`` profile (needs the data, as photo_counter).
- photo_step: a rank pre-training step of that profile at its own settings: the whole step, its data's
  part (the data wait) and the network alone on the same batch; beside it, the network alone with the
  stem frozen, the stem and layer1 frozen, and compiled (``torch.compile``).
- generation: img2img with the real Stable Diffusion 2.1 architecture (perf/sd21/, random
  weights) at the paper's settings: a naive one-image-per-call fp32 loop against the project's
  batched path (fp16 on CUDA).
- pretrain: rank pre-training steps of ResNet-50 (640x853 on a GPU): a plain fp32 loop that decodes
  and resizes the JPEGs every step against the project's path (images decoded once, channels_last,
  bf16 autocast on CUDA), with the share of each step spent waiting for data and, on a GPU, NVML's
  utilisation (the share of time a kernel ran) over the timed steps.
- generation_cost: seconds per synthetic image of each kind, embedded and Stable Diffusion 2.1 at the
  paper's sizes and steps (summed from its timed parts), the review's question 6.
- inference: KxK patch counting, all patches of an image in one batch against one patch per call.
- encode_batch: the encoder (ResNet-18 at 192x256) at 1 to 128 patches a forward pass against
  ``features.encode``'s default on this machine (``patches_per_pass``), and whether the features come
  out the same to the bit.
- photo_counter: `syrac count`'s default reading of ShanghaiTech photos by the shipped photo counter
  beside the embedded one, and a one-minute video at a frame a second (needs the data).
- tiling: `syrac count`'s default, each image on its own tiling, against a fixed 2x2 grid, with the
  counter of the last `dvc repro` on its benchmark images (decoding included).
- memory: peak memory of generating and encoding N and 10N images (streaming: it should not grow).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's syrac; the tests' helpers (random SD, data lookup)

from repo import shanghaitech_root  # noqa: E402  (where the tests find ShanghaiTech: one rule for both)

from syrac.method.augment import augment  # noqa: E402
from syrac.method.features import encode, image_patches, patches_per_pass  # noqa: E402
from syrac.method.model import (  # noqa: E402
    RankCounter,
    build_encoder,
    compute_device,
    machine,
    normalise,
    to_batch,
    to_device,
)
from syrac.method.pretrain import rank_loss  # noqa: E402
from syrac.method.scale import relation_loss, relation_views  # noqa: E402

DEVICE = compute_device()
GPU = DEVICE.type == "cuda"


def _sync():
    if GPU:
        torch.cuda.synchronize()


def _timed(function, repeats: int, warm_up=None) -> float:
    """Seconds per call, after one warm-up call (of ``warm_up`` where a call of ``function`` is long)."""
    (warm_up or function)()
    _sync()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    _sync()
    return (time.perf_counter() - start) / repeats


class GpuUtilisation:
    """Mean of NVML's GPU utilisation (share of time a kernel was running) sampled every 100 ms
    while the block runs; None off CUDA. NVML averages over 1/6 to 1 s, so time blocks of seconds."""

    def __enter__(self):
        import threading

        self.samples, self.mean = [], None
        self._stop = threading.Event()
        if GPU:
            torch.cuda.utilization()  # fails here, not in the thread, when NVML is missing
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.1):
            self.samples.append(torch.cuda.utilization())

    def __exit__(self, *exc):
        self._stop.set()
        if GPU:
            self._thread.join()
            self.mean = float(np.mean(self.samples)) / 100 if self.samples else None


def _peak_rss_of(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB) of a command with all its processes, sampled
    every 50 ms (ru_maxrss would report this benchmark's own size, inherited across exec)."""
    import psutil

    start = time.perf_counter()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # the stages' python
    log = tempfile.TemporaryFile("w+")  # not a pipe: progress bars would fill it and block the stage
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:  # a process ended while being sampled
            pass
        time.sleep(0.05)
    if process.returncode:
        log.seek(0)
        raise subprocess.CalledProcessError(process.returncode, command, stderr=log.read()[-3000:])
    return time.perf_counter() - start, peak / 2**20


def bench_repro(profile: str | None = None) -> dict:
    """Every stage of the DAG in dependency order, in a scratch copy of the repository: the embedded
    default, or ``profile`` applied to it (``shanghaitech``: one seed of the photo profile, ShanghaiTech
    linked in)."""
    from dvc.repo import Repo

    from syrac.tools.profile import switch

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for name in ("dvc.yaml", "params.yaml", "stages", "syrac", "datasets/README.md"):
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, work / name)
        if profile is not None:
            switch(profile, work / "params.yaml")
            if (data := shanghaitech_root()) is None:
                raise SystemExit("perf repro_photo: needs ShanghaiTech (datasets/ShanghaiTech or SYRAC_SHANGHAITECH)")
            (work / "datasets/ShanghaiTech").symlink_to(data.resolve())
        subprocess.run(["git", "init", "-q"], cwd=work, check=True)
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=work, check=True)
        shutil.copytree(ROOT / ".dvc/plots", work / ".dvc/plots")  # the plot template dvc.yaml names
        subprocess.run(["git", "add", "-A"], cwd=work, check=True)  # DVCLive needs a commit to exist
        subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "scratch"],
                       cwd=work, check=True)
        stages = [(s.name, s.cmd) for s in Repo(str(work)).index.stages]  # dvc.yaml order is a topological order
        result, total = {}, 0.0
        for name, cmd in stages:
            seconds, mib = _peak_rss_of(["bash", "-c", cmd], work)
            result[name] = {"seconds": round(seconds, 1), "peak_mib": round(mib)}
            total += seconds
            print(f"  {name:>20}: {seconds:7.1f} s  {mib:7.0f} MiB", flush=True)
        result["total_seconds"] = round(total, 1)
    return result


def bench_generation(images: int) -> dict:
    """SD 2.1 img2img at strength 0.45, guidance 7.5: naive fp32 loop vs batched (fp16 on CUDA)."""
    from diffusers import StableDiffusionImg2ImgPipeline

    configs = {name: json.loads((ROOT / "perf/sd21" / f"{name}.json").read_text())
               for name in ("unet", "vae", "text_encoder", "scheduler")}
    size, steps = (768, 50) if GPU else (128, 10)  # SD 2.1's native size on a GPU; a tiny size on CPU
    import random_pipeline  # the tests' random-weight SD builder (diffusers): only the generation sections need it

    pipe = random_pipeline.build(**configs)
    source = [np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8) for i in range(images)]
    settings = dict(prompt="An empty outside space. Nobody around. High resolution DSLR photography.",
                    negative_prompt="people, crowds, pedestrians, humans, 3d, cartoon, anime, painting",
                    strength=0.45, guidance_scale=7.5, num_inference_steps=steps, output_type="np")

    def run(p, batch):
        from PIL import Image

        for start in range(0, images, batch):
            chunk = [Image.fromarray(s) for s in source[start:start + batch]]
            p(image=chunk, **{**settings, "prompt": [settings["prompt"]] * len(chunk),
                              "negative_prompt": [settings["negative_prompt"]] * len(chunk)})

    naive = StableDiffusionImg2ImgPipeline(**pipe.components, requires_safety_checker=False).to(DEVICE)
    naive.set_progress_bar_config(disable=True)
    naive_s = _timed(lambda: run(naive, 1), 1)
    fast = StableDiffusionImg2ImgPipeline(**pipe.components, requires_safety_checker=False).to(DEVICE)
    if GPU:  # fp16 is for CUDA; on a CPU the ratio measures batching alone
        fast = fast.to(dtype=torch.float16)
    fast.set_progress_bar_config(disable=True)
    fast_s = _timed(lambda: run(fast, images), 1)
    return {"image_size": size, "steps": steps, "images": images, "naive_fp32_images_per_s": images / naive_s,
            "batched_images_per_s": images / fast_s, "batched_dtype": "fp16" if GPU else "fp32",
            "speedup": naive_s / fast_s}


def bench_generation_cost(images: int) -> dict:
    """Seconds per image of the two kinds of synthetic data (the review's question 6), one image at
    a time. Embedded: a source scene and its removal edit, and a counting image, rendered by the
    simulator. Stable Diffusion 2.1 (published architecture, random weights): each part of a
    pipeline call timed once at the sizes and steps of params ``generator`` (the paper's: edits at
    640x856, counting images at 768x768; classifier-free guidance doubling the UNet batch), summed as
    a call runs them: text encoding, VAE encoding (img2img only), int(steps x pairs.strength) = 22
    UNet steps for an edit or 50 for a counting image, VAE decoding."""
    from syrac import config
    from syrac.synthetic import sim
    from syrac.synthetic.generate import source_scene

    cfg = config.load(ROOT / "params.yaml")
    rng = np.random.default_rng(0)
    edit_s = _timed(lambda: [sim.render(sim.remove_people(source_scene(cfg, i), rng, cfg.pairs.strength,
                                                          cfg.pairs.remove_prob, cfg.pairs.clutter_prob))
                             for i in range(images)], 1) / images
    source_s = _timed(lambda: [sim.render(source_scene(cfg, i)) for i in range(images)], 1) / images
    counting_s = (
        _timed(lambda: [sim.render(sim.prompted_scene(rng, 100, cfg.counting.count_cv)) for _ in range(images)], 1)
        / images
    )
    result = {"embedded": {"removal_edit_s": edit_s, "source_s": source_s, "counting_image_s": counting_s,
                           "image_size": [sim.SPARSE.height, sim.SPARSE.width]}}

    configs = {name: json.loads((ROOT / "perf/sd21" / f"{name}.json").read_text())
               for name in ("unet", "vae", "text_encoder", "scheduler")}
    import random_pipeline  # the tests' random-weight SD builder (diffusers): only the generation sections need it

    pipe = random_pipeline.build(**configs)
    dtype = torch.float16 if GPU else torch.float32
    unet, vae, text = (m.to(DEVICE, dtype=dtype).eval() for m in (pipe.unet, pipe.vae, pipe.text_encoder))
    tokens = pipe.tokenizer(["prompt", "negative"], padding="max_length", max_length=77, return_tensors="pt").input_ids
    sd = {}
    with torch.inference_mode():
        hidden = text(tokens.to(DEVICE))[0]
        sd["text_encoding_s"] = _timed(lambda: text(tokens.to(DEVICE)), 1)
        g = cfg.generator  # the paper's settings, as params.yaml holds them for the diffusers backend
        for kind, (height, width), steps in (("edit", g.edit_size, int(g.steps * cfg.pairs.strength)),
                                             ("counting_image", g.image_size, g.steps)):
            pixels = torch.randn(1, 3, height, width, device=DEVICE, dtype=dtype)
            latents = torch.randn(2, 4, height // 8, width // 8, device=DEVICE, dtype=dtype)
            step_s = _timed(lambda: unet(latents, 500, encoder_hidden_states=hidden), 1)
            decode_s = _timed(lambda: vae.decode(latents[:1]), 1)
            encode_s = _timed(lambda: vae.encode(pixels), 1) if kind == "edit" else 0.0
            sd[kind] = {
                "size": [height, width],
                "unet_steps": steps,
                "unet_step_s": step_s,
                "vae_decode_s": decode_s,
                "vae_encode_s": encode_s,
                "per_image_s": sd["text_encoding_s"] + encode_s + steps * step_s + decode_s,
            }
    result["stable_diffusion_2_1"] = {**sd, "dtype": str(dtype).replace("torch.", "")}
    return result


def bench_pretrain(steps: int, batch: int) -> dict:
    """ResNet-50 Siamese rank steps: plain fp32 from JPEG files vs cached uint8 + channels_last + bf16."""
    from PIL import Image

    size = (640, 853) if GPU else (160, 213)
    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for i in range(2 * batch):
            paths.append(Path(scratch) / f"{i}.jpg")
            Image.fromarray(np.random.default_rng(i).integers(0, 256, (768, 1024, 3), dtype=np.uint8)).save(paths[-1])
        generator = torch.Generator().manual_seed(0)

        def model_and_optimiser(fast: bool):
            torch.manual_seed(0)
            model = to_device(
                RankCounter(*build_encoder("resnet50", "none"), precision="auto" if fast else "fp32"), DEVICE
            )
            return model, torch.optim.Adam(model.parameters(), lr=5e-5)

        # the scale relations' images (pretrain.scale_relations): 8 a step, decoded once at twice the input size
        relation_images = torch.from_numpy(np.random.default_rng(0).integers(
            0, 256, (8, 3, 2 * size[0], 2 * size[1]), dtype=np.uint8))

        def step(model, optimiser, images, fast: bool, relations: bool = False) -> float:
            """One optimiser step; returns the seconds spent getting the batch onto the device."""
            start = time.perf_counter()
            x = images() if callable(images) else images
            x = x.to(DEVICE, non_blocking=True)
            extra = relation_images.to(DEVICE, non_blocking=True) if relations else None
            _sync()
            waited = time.perf_counter() - start
            x = augment(x, 0.2, True, generator)
            if extra is not None:
                x = torch.cat([x, relation_views(augment(extra, 0.2, True, generator), size)])
            with model.autocast():
                scores = model(normalise(x)).float()
            loss = rank_loss(scores[:batch], scores[batch:2 * batch])
            if extra is not None:
                loss = loss + relation_loss(scores[2 * batch:], len(extra))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            return waited

        def decode_every_step():
            return to_batch([np.asarray(Image.open(p).convert("RGB").resize(size[::-1])) for p in paths])

        results = {}
        cached = decode_every_step().pin_memory() if GPU else decode_every_step()
        runs = (("plain_fp32", False, decode_every_step, False), ("project", True, cached, False),
                ("project_scale_relations", True, cached, True))
        for name, fast, images, relations in runs:
            model, optimiser = model_and_optimiser(fast)
            step(model, optimiser, images, fast, relations)
            _sync()
            with GpuUtilisation() as busy:
                start, waited = time.perf_counter(), 0.0
                for _ in range(steps):
                    waited += step(model, optimiser, images, fast, relations)
                _sync()
                seconds = time.perf_counter() - start
            results[name] = {"pairs_per_s": steps * batch / seconds, "data_wait_share": waited / seconds,
                             "gpu_utilisation": busy.mean}
        on_device = cached.to(DEVICE)
        augment_s = {name: _timed(lambda: augment(on_device, 0.2, True, generator, name), steps)
                     for name in ("paper", "authors")}
    return {"input_size": list(size), "batch_pairs": batch, "steps": steps, **results,
            "speedup": results["project"]["pairs_per_s"] / results["plain_fp32"]["pairs_per_s"],
            "augment_s_per_step": augment_s}


def bench_photo_step(steps: int) -> dict:
    """Rank pre-training steps of the ``shanghaitech`` profile at its own settings (backbone, input size,
    batch, scale relations) on random images of its shapes: the whole step as training runs it
    (``pretrain.rank_epoch``), the data's part of it (everything before the network, ``step_inputs``:
    the data wait, since it runs in the step's thread) and the network alone on one such batch
    (``step_loss``, backward, Adam), what the step could be with its data free."""
    from syrac.method.model import new_model
    from syrac.method.pretrain import PairSet, RelationImages, rank_epoch, seed_everything, step_inputs, step_loss
    from syrac.tools.profile import profile_config

    cfg = profile_config("shanghaitech", ROOT / "params.yaml")
    p, (height, width) = cfg.pretrain, cfg.model.input_size
    pairs = steps * p.batch_size
    rng = np.random.default_rng(0)
    train = PairSet(torch.from_numpy(rng.integers(0, 256, (2 * pairs, 3, height, width), dtype=np.uint8)),
                    torch.arange(pairs), torch.arange(pairs, 2 * pairs), np.arange(pairs))
    relations = RelationImages(
        torch.from_numpy(rng.integers(0, 256, (4 * p.scale_images, 3, 2 * height, 2 * width), dtype=np.uint8)),
        np.full(4 * p.scale_images, -1)) if p.scale_relations else None
    generator = seed_everything(0)
    model = to_device(new_model(cfg.model), DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=p.lr)
    model.head.attach(optimizer)
    batch = torch.arange(p.batch_size)
    inputs, drawn = step_inputs(train, batch, p, generator, DEVICE, relations)

    def network_alone(net=model, optimiser=optimizer):
        loss, _ = step_loss(net, inputs, len(batch), drawn, p)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    def other_network(change) -> tuple[float, float]:
        """The network alone with ``change`` made to a fresh copy: seconds a step, and of its first step (which
        holds a compilation)."""
        net = to_device(new_model(cfg.model), DEVICE)
        change(net)
        optimiser = torch.optim.Adam(net.parameters(), lr=p.lr)
        start = time.perf_counter()
        network_alone(net, optimiser)
        return _timed(lambda: network_alone(net, optimiser), steps), time.perf_counter() - start

    one_step = train.subset(np.arange(pairs) < p.batch_size)
    whole_s = _timed(lambda: rank_epoch(model, optimizer, train, generator, p, "photo profile steps", relations), 1,
                     warm_up=lambda: rank_epoch(model, optimizer, one_step, generator, p, "warm-up step", relations)
                     ) / steps
    data_s = _timed(lambda: step_inputs(train, batch, p, generator, DEVICE, relations), steps)
    network_s = _timed(network_alone, steps)
    # What the network's own arithmetic could shed, each beside the step above: fewer layers trained (the stem
    # kept as initialised, then layer1 too: pretrain.frozen_stages), and the same layers compiled (inductor fuses
    # the batch norms, ReLUs and additions that run apart in eager mode; it needs a C++ compiler on a CPU).
    variants = {f"frozen_stages_{n}": other_network(lambda net, n=n: net.freeze_stages(n)) for n in (1, 2)}
    try:
        with tempfile.TemporaryDirectory() as cache, mock.patch.dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache):
            # compiled from scratch, as on a fresh machine; the variable is restored however the compile ends
            variants["compiled"] = other_network(lambda net: setattr(net, "encoder", torch.compile(net.encoder)))
    except Exception as error:  # a machine without a compiler: say so in the results
        variants["compiled"] = (None, f"{type(error).__name__}: {error}"[:200])
    return {"backbone": cfg.model.backbone, "input_size": [height, width], "batch_pairs": p.batch_size,
            "images_per_step": len(inputs), "steps": steps, "step_s": whole_s, "data_s": data_s,
            "data_share": data_s / whole_s, "network_alone_step_s": network_s,
            "step_over_network_alone": whole_s / network_s,
            "network_alone_variants": {name: {"step_s": step_s, "first_step": first}
                                       for name, (step_s, first) in variants.items()}}


def bench_inference(images: int, k: int) -> dict:
    """KxK patch counting: every patch of an image in one batch vs one patch per forward pass."""
    size = (640, 853) if GPU else (96, 128)
    model = to_device(RankCounter(*build_encoder("resnet50" if GPU else "resnet18", "none")), DEVICE).eval()
    from PIL import Image

    photos = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (768, 1024, 3), dtype=np.uint8))
              for i in range(images)]

    @torch.no_grad()
    def count(batched: bool):
        for photo in photos:
            patches = to_batch(image_patches(photo, (k,), size)).to(DEVICE)
            chunks = [patches] if batched else patches.split(1)
            for chunk in chunks:
                with model.autocast():
                    model.features(normalise(chunk)).float().cpu()

    per_patch = _timed(lambda: count(False), 1)
    batched = _timed(lambda: count(True), 1)
    return {"input_size": list(size), "patches": k, "per_patch_images_per_s": images / per_patch,
            "batched_images_per_s": images / batched, "speedup": per_patch / batched}


def bench_tiling(images: int) -> dict:
    """Counting each image on its own tiling (it reads the whole image, then the 2x2 grid where it
    splits) against a fixed 2x2 grid, on benchmark images spread over every benchmark."""
    from syrac import config
    from syrac.data.benchmarks import read_manifest
    from syrac.inference.count import load_counter
    from syrac.storage import read_image

    counter_path, bench_root = ROOT / "models/syrac.pt", ROOT / "data/benchmarks"
    if not counter_path.is_file() or not bench_root.is_dir():
        raise SystemExit("perf tiling: run `dvc repro` first; it times models/syrac.pt on data/benchmarks")
    paths = [
        path for name in config.load(ROOT / "params.yaml").benchmarks for path in read_manifest(bench_root / name)[1]
    ]
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, min(images, len(paths))).round().astype(int)]
    counter = load_counter(counter_path)

    def count(k: int | None):
        for path in paths:
            counter.read(read_image(path), k)

    fixed, tiled = _timed(lambda: count(2), 1), _timed(lambda: count(None), 1)
    return {"images": len(paths), "grid_2_images_per_s": len(paths) / fixed, "tiled_images_per_s": len(paths) / tiled,
            "speedup": fixed / tiled}


def bench_photo_counter(photos: int) -> dict:
    """`syrac count`'s default reading (each image on its own tiling, envelope included, decoding
    included) of ShanghaiTech test photos by the shipped photo counter beside the embedded default's
    counter, and a one-minute video sampled at one frame a second by the shipped counter."""
    import cv2

    from syrac.data.datasets import image_paths
    from syrac.inference.count import SHIPPED, load_counter
    from syrac.inference.video import Every, VideoFrames
    from syrac.storage import read_image

    data = shanghaitech_root()
    if not SHIPPED.is_file() or data is None or not (ROOT / "models/syrac.pt").is_file():
        raise SystemExit(
            "perf photo_counter: needs the shipped counter, `dvc repro`'s models/syrac.pt and ShanghaiTech "
            "(datasets/ShanghaiTech or SYRAC_SHANGHAITECH)"
        )
    paths = [p for part in ("part_A", "part_B") for p in image_paths("shanghaitech", data / part, "test")]
    paths = [paths[i] for i in np.linspace(0, len(paths) - 1, photos).round().astype(int)]
    rates = {}
    for name, path in (("shipped", SHIPPED), ("embedded", ROOT / "models/syrac.pt")):
        counter = load_counter(path)
        rates[f"{name}_photos_per_s"] = len(paths) / _timed(
            lambda: [counter.read(read_image(p), None) for p in paths], 1
        )
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "minute.mp4"
        frames = [np.asarray(read_image(p).resize((640, 480))) for p in paths[:10]]
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 480))
        for i in range(60 * 25):  # one minute at 25 frames a second, a photo a few seconds
            writer.write(frames[(i // 150) % len(frames)][..., ::-1])
        writer.release()
        counter = load_counter(SHIPPED)
        video_s = _timed(lambda: [counter.read(f.image, None) for f in VideoFrames(clip, Every(1, True))], 1)
    return {"photos": len(paths), **rates, "minute_video_at_1fps_s": video_s}


MEMORY_PROBE = """
import dataclasses, sys, tempfile
from pathlib import Path
from accelerate import PartialState
from syrac import config
from syrac.synthetic import generate
from syrac.method.features import extract
from syrac.method.model import RankCounter, build_encoder
def peak_kib():  # this process's own high-water mark (ru_maxrss would carry a fat parent's over exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
cfg = config.load("params.yaml")
per_count = int(sys.argv[1])
cfg = dataclasses.replace(cfg, counting=dataclasses.replace(cfg.counting, images_per_count=per_count))
with tempfile.TemporaryDirectory() as out:
    out = Path(out)
    generate.synthesize_counting(cfg, out / "counting", out / "truth", out / "work", PartialState())
    after_generation = peak_kib()
    model = RankCounter(*build_encoder(cfg.model.backbone, "none"))
    paths = sorted((out / "counting/images").glob("*.jpg"))
    extract(model, paths, cfg.evaluate.extracted, tuple(cfg.model.input_size), "encode")
    print(len(paths), after_generation, peak_kib())
"""


def bench_memory(per_count: int) -> dict:
    """Peak memory of generating and then encoding N and 10N counting images, each in a fresh process."""
    result = {}
    for n in (per_count, 10 * per_count):
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(n)], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        images, generation_kib, total_kib = map(int, out.stdout.split()[-3:])
        result[str(images)] = {"generation_peak_mib": round(generation_kib / 1024),
                               "generation_and_encoding_peak_mib": round(total_kib / 1024)}
    return result


def bench_encode_batch(patches: int) -> dict:
    """The encoder of the embedded default and the photo profile (ResNet-18 at 192x256, the machine's
    precision) at each number of patches a forward pass, against ``features.encode``'s default batch
    on this machine (``patches_per_pass``); and whether every feature comes out the same to the bit at
    each."""
    size = (192, 256)
    model = to_device(RankCounter(*build_encoder("resnet18", "none")), DEVICE)
    default = patches_per_pass(DEVICE)
    rng = np.random.default_rng(0)
    shown = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(patches)]
    reference = encode(model, shown)
    figures = {"input_size": list(size), "patches": patches, "default_batch": default, "per_call": {}}
    for per_call in (1, 4, 8, 16, 32, 64, 128):
        seconds = _timed(lambda n=per_call: encode(model, shown, batch_size=n), 2)
        same = bool(np.array_equal(encode(model, shown, per_call), reference))
        figures["per_call"][str(per_call)] = {"patches_per_s": patches / seconds, "same_features": same}
    return figures


def table(results: dict) -> str:
    """Each figure beside its baseline, and their ratio."""
    rows = []
    if "generation" in results:
        g = results["generation"]
        rows.append((f"SD 2.1 img2img {g['image_size']}px, {g['steps']} steps (images/s)",
                     f"batched {g['batched_dtype']}", g["batched_images_per_s"], "1 image/call fp32",
                     g["naive_fp32_images_per_s"], g["speedup"]))
    if "pretrain" in results:
        r = results["pretrain"]

        def pipeline(run: dict) -> str:
            busy = run.get("gpu_utilisation")
            return f"data wait {run['data_wait_share']:.0%}" + (f", GPU busy {busy:.0%}" if busy is not None else "")

        rows.append((f"ResNet-50 rank pre-training {r['input_size'][0]}x{r['input_size'][1]} (pairs/s)",
                     f"project ({pipeline(r['project'])})", r["project"]["pairs_per_s"],
                     f"plain fp32 ({pipeline(r['plain_fp32'])})", r["plain_fp32"]["pairs_per_s"], r["speedup"]))
        if "project_scale_relations" in r:
            relations = r["project_scale_relations"]["pairs_per_s"]
            rows.append(("the same with the scale relations (`pretrain.scale_relations`, 8 images a step) (pairs/s)",
                         "with relations", relations, "project, without", r["project"]["pairs_per_s"],
                         relations / r["project"]["pairs_per_s"]))
        if "augment_s_per_step" in r:
            cost = r["augment_s_per_step"]
            rows.append((f"augmenting one step's {2 * r['batch_pairs']} images (ms)", "authors' set (`authors`)",
                         1000 * cost["authors"], "flips and brightness (`paper`)", 1000 * cost["paper"],
                         cost["authors"] / cost["paper"]))
    if "photo_step" in results:
        r = results["photo_step"]
        rows.append((f"photo profile rank step, {r['backbone']} {r['input_size'][0]}x{r['input_size'][1]}, "
                     f"{r['images_per_step']} images (s/step; data {r['data_share']:.0%} of the step)", "the step",
                     r["step_s"], "the network alone, same batch", r["network_alone_step_s"],
                     r["step_over_network_alone"]))
        for name, run in r.get("network_alone_variants", {}).items():
            if run["step_s"] is not None:
                label = f"the network alone, {name.replace('_', ' ')} (s/step; first step {run['first_step']:.1f})"
                rows.append((label, name, run["step_s"], "the network as trained", r["network_alone_step_s"],
                             run["step_s"] / r["network_alone_step_s"]))
    if "inference" in results:
        r = results["inference"]
        rows.append((f"{r['patches']}x{r['patches']} patch counting (images/s)", "patches batched",
                     r["batched_images_per_s"], "one patch per call", r["per_patch_images_per_s"], r["speedup"]))
    if "encode_batch" in results:
        r = results["encode_batch"]
        default = r["per_call"][str(r["default_batch"])]["patches_per_s"]
        for per_call, run in r["per_call"].items():
            if per_call != str(r["default_batch"]):
                rows.append((f"encoding {r['input_size'][0]}x{r['input_size'][1]} patches, resnet18 (patches/s; "
                             f"the same bits: {run['same_features']})", f"{per_call} a forward pass",
                             run["patches_per_s"], f"{r['default_batch']} (`encode`'s default)", default,
                             run["patches_per_s"] / default))
    if "photo_counter" in results:
        r = results["photo_counter"]
        rows.append((f"`syrac count` on {r['photos']} ShanghaiTech test photos (photos/s)", "the shipped photo counter",
                     r["shipped_photos_per_s"], "the embedded default's", r["embedded_photos_per_s"],
                     r["shipped_photos_per_s"] / r["embedded_photos_per_s"]))
    if "tiling" in results:
        r = results["tiling"]
        rows.append((f"`syrac count` on {r['images']} benchmark images (images/s)", "own tiling (default)",
                     r["tiled_images_per_s"], "fixed 2x2 grid", r["grid_2_images_per_s"], r["speedup"]))
    lines = ["| figure | project | value | baseline | value | ratio |", "|---|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c:.2f} | {d} | {e:.2f} | {f:.2f}x |" for a, b, c, d, e, f in rows]
    if "photo_counter" in results:
        lines.append(f"| a one-minute video at a frame a second, the shipped counter (s) | sampled and counted | "
                     f"{results['photo_counter']['minute_video_at_1fps_s']:.1f} | the video's length | 60 | |")
    if "memory" in results:
        for images, m in results["memory"].items():
            lines.append(f"| peak memory, {images} counting images (MiB) | generation | {m['generation_peak_mib']} "
                         f"| + encoding | {m['generation_and_encoding_peak_mib']} | |")
    if "generation_cost" in results:
        cost = results["generation_cost"]
        sd, sim = cost["stable_diffusion_2_1"], cost["embedded"]
        for kind, label, sim_key in (("edit", "removal edit", "removal_edit_s"),
                                     ("counting_image", "counting image", "counting_image_s")):
            lines.append(f"| seconds per {label}, SD 2.1 {sd['dtype']} at {sd[kind]['size'][0]}x{sd[kind]['size'][1]}, "
                         f"{sd[kind]['unet_steps']} steps | summed from timed parts | {sd[kind]['per_image_s']:.1f} | "
                         f"embedded simulator | {sim[sim_key]:.4f} | |")
    for section, label in (("repro", "embedded dvc repro"), ("repro_photo", "one seed of the photo profile")):
        if section in results:
            stages = {k: v for k, v in results[section].items() if isinstance(v, dict)}
            lines.append(f"| {label}, all stages (s) | | {results[section]['total_seconds']:.0f} | "
                         f"largest stage peak (MiB) | {max(v['peak_mib'] for v in stages.values())} | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sections = ("repro", "repro_photo", "generation", "generation_cost", "pretrain", "photo_step", "inference",
                "encode_batch", "tiling", "photo_counter", "memory")
    parser.add_argument("--only", nargs="+", choices=sections,
                        default=[s for s in sections if s not in ("repro", "repro_photo", "tiling", "photo_counter")])
    parser.add_argument("--results", type=Path, help="the folder of results.json (default perf/results/cpu or "
                        "gpu-<name>): another CPU kind's figures go in a folder of their own, beside this one's")
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if GPU else f"CPU ({platform.processor() or platform.machine()}, " \
                                                       f"{torch.get_num_threads()} threads)"
    print(f"device: {device}; torch {torch.__version__}")
    runs = {"repro": bench_repro, "repro_photo": lambda: bench_repro("shanghaitech"),
            "generation": lambda: bench_generation(4),
            "generation_cost": lambda: bench_generation_cost(images=20),
            "pretrain": lambda: bench_pretrain(steps=30 if GPU else 3, batch=8 if GPU else 4),
            "photo_step": lambda: bench_photo_step(steps=5),
            "inference": lambda: bench_inference(images=16 if GPU else 8, k=2),
            "encode_batch": lambda: bench_encode_batch(patches=256),
            "tiling": lambda: bench_tiling(images=100),
            "photo_counter": lambda: bench_photo_counter(photos=60),
            "memory": lambda: bench_memory(per_count=20)}
    folder = args.results or ROOT / "perf/results" / (("gpu-" + device.replace(" ", "_")) if GPU else "cpu")
    out = folder / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.is_file() else {}
    results.update({"device": device, "torch": torch.__version__, "machine": machine()})
    for name in args.only:  # each section written as it ends: an hour-long one that fails keeps the others
        print(f"{name} ...", flush=True)
        results[name] = runs[name]()
        out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
