"""The embedded crowd world: a procedural stand-in for Stable Diffusion and for the benchmarks.

No model weights or datasets can be downloaded where this repo is built and tested, yet the method
has to run end to end against exact ground truth. This module renders street scenes seen in
perspective (people shrink towards the horizon, occlude each other in dense crowds, share the
ground with poles, bins, trees and cars, under varied light, sensor noise and blur) and offers the
three generators the method needs:

* ``source_scene``    - an unlabelled "real" crowd image (the input of the removal edit);
* ``remove_people``   - the img2img edit that removes people, perturbing the whole image as a
                        diffusion edit at the given strength would;
* ``prompted_scene``  - the text-to-image stand-in for "A group of {N} people. High angle": a
                        scene in a different style whose *true* count is noisy around N.

Every scene is a pure function of its seed, so any image can be regenerated alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageFilter

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class ViewStyle:
    """How a family of images looks: camera geometry, palette and image size."""

    name: str
    height: int
    width: int
    horizon: tuple[float, float]  # horizon row as a fraction of image height (may be < 0)
    person_height: tuple[float, float]  # height of a person at the bottom row, fraction of height
    ground_palette: tuple[RGB, ...]
    sky_palette: tuple[RGB, ...]
    tiles: float  # strength of perspective paving stripes
    clutter: tuple[int, int]  # how many clutter objects per scene


SPARSE = ViewStyle(
    name="sparse", height=192, width=256, horizon=(-0.1, 0.35), person_height=(0.14, 0.3),
    ground_palette=((0.45, 0.45, 0.47), (0.52, 0.48, 0.42), (0.35, 0.38, 0.36), (0.58, 0.56, 0.55)),
    sky_palette=((0.62, 0.74, 0.9), (0.8, 0.82, 0.85), (0.55, 0.6, 0.7)),
    tiles=0.06, clutter=(2, 7),
)
DENSE = replace(SPARSE, name="dense", height=384, width=512, horizon=(-0.2, 0.25),
                person_height=(0.05, 0.12), clutter=(1, 5))
# The counting set is deliberately unlike the benchmarks (the paper's domain gap): a steep
# "high angle" view over bright warm paving, with milder perspective.
AERIAL = ViewStyle(
    name="aerial", height=192, width=256, horizon=(-1.2, -0.5), person_height=(0.12, 0.2),  # rescaled per prompt
    ground_palette=((0.72, 0.66, 0.56), (0.66, 0.7, 0.62), (0.78, 0.74, 0.7), (0.6, 0.55, 0.5)),
    sky_palette=((0.7, 0.8, 0.95),), tiles=0.12, clutter=(0, 4),
)
STYLES = {style.name: style for style in (SPARSE, DENSE, AERIAL)}

SHIRTS = ((0.8, 0.1, 0.1), (0.1, 0.3, 0.8), (0.9, 0.9, 0.9), (0.1, 0.1, 0.1), (0.9, 0.7, 0.1),
          (0.2, 0.6, 0.3), (0.6, 0.3, 0.6), (0.95, 0.5, 0.2), (0.4, 0.4, 0.45), (0.5, 0.8, 0.9))
SKINS = ((0.96, 0.8, 0.69), (0.85, 0.65, 0.5), (0.6, 0.42, 0.3), (0.4, 0.27, 0.18))
HAIRS = ((0.1, 0.08, 0.05), (0.35, 0.22, 0.1), (0.6, 0.5, 0.3), (0.5, 0.5, 0.5))
CLUTTER_KINDS = ("pole", "bin", "tree", "car")


@dataclass(frozen=True)
class Person:
    x: float  # foot position, pixels
    y: float
    height: float
    build: float  # width multiplier (pose / clothing / viewpoint)
    lean: float  # horizontal offset of the head, fraction of height
    shirt: RGB
    trousers: RGB
    skin: RGB
    hair: RGB

    @property
    def head(self) -> tuple[float, float]:
        return self.x + self.lean * self.height, self.y - 0.88 * self.height


@dataclass(frozen=True)
class Clutter:
    kind: str
    x: float
    y: float
    height: float  # height of a person standing at the same spot
    colour: RGB


@dataclass(frozen=True)
class Scene:
    style: ViewStyle
    horizon: float  # pixels
    person_scale: float  # person height in pixels per pixel below the horizon
    ground: RGB
    sky: RGB
    texture: tuple[tuple[int, float], ...]  # (seed, weight) low-frequency ground noise layers
    tiles: float  # contrast of the perspective paving stripes
    clutter: tuple[Clutter, ...]
    people: tuple[Person, ...]
    gain: RGB  # colour cast and exposure
    blur: float  # Gaussian blur radius, pixels
    noise: float  # sensor noise standard deviation (0..1 scale)
    noise_seed: int

    @property
    def count(self) -> int:
        return len(self.people)

    def head_points(self) -> list[tuple[float, float]]:
        return [p.head for p in self.people]


# Independent random streams: changing one dataset's size never changes another's images.
SOURCES, EDITS, COUNTING, BENCHMARKS = 1, 2, 3, 4


def scene_rng(*key: int) -> np.random.Generator:
    """A generator keyed by integers, so every image has its own reproducible stream."""
    return np.random.default_rng([int(k) for k in key])


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _jitter(rng: np.random.Generator, colour: RGB, amount: float) -> RGB:
    return tuple(float(np.clip(c + rng.normal(0, amount), 0, 1)) for c in colour)


def _random_person(rng: np.random.Generator, x: float, y: float, height: float) -> Person:
    return Person(
        x=x, y=y, height=height, build=float(rng.uniform(0.8, 1.3)), lean=float(rng.normal(0, 0.04)),
        shirt=_jitter(rng, _pick(rng, SHIRTS), 0.08), trousers=_jitter(rng, _pick(rng, SHIRTS[2:5]), 0.05),
        skin=_pick(rng, SKINS), hair=_pick(rng, HAIRS),
    )


def _sample_ground_rows(rng, n, horizon, scale, height, min_person_px, gamma=1.2):
    """Rows of feet, denser towards the horizon as ground area per pixel grows with distance.

    The density of rows below the horizon falls as u**-gamma (u = row - horizon), drawn by inverse
    CDF between the row where a person is ``min_person_px`` tall and just below the image.
    """
    u_lo = max(min_person_px / scale, -horizon + 0.12 * height)
    u_hi = height * 1.04 - horizon
    u_lo = min(u_lo, 0.9 * u_hi)
    q = rng.uniform(size=n)
    a = 1.0 - gamma
    u = (u_lo**a + q * (u_hi**a - u_lo**a)) ** (1.0 / a)
    return horizon + u


def _place_people(rng, count, style, horizon, scale, min_person_px) -> list[Person]:
    """Scatter ``count`` people, a share in groups, keeping only those whose head is in frame."""
    h, w = style.height, style.width
    n_groups = int(rng.integers(0, 4))
    groups = [(rng.uniform(0, w), _sample_ground_rows(rng, 1, horizon, scale, h, min_person_px)[0])
              for _ in range(n_groups)]
    grouped_share = rng.uniform(0.2, 0.7) if groups else 0.0
    people: list[Person] = []
    attempts = 0
    while len(people) < count and attempts < 50 * count + 100:
        attempts += 1
        if groups and rng.uniform() < grouped_share:
            gx, gy = groups[int(rng.integers(len(groups)))]
            size = scale * (gy - horizon)
            x, y = gx + rng.normal(0, 2.5 * size), gy + rng.normal(0, 0.6 * size)
            if y - horizon < min_person_px / scale:
                continue
        else:
            x = rng.uniform(-0.02 * w, 1.02 * w)
            y = _sample_ground_rows(rng, 1, horizon, scale, h, min_person_px)[0]
        person = _random_person(rng, float(x), float(y), float(scale * (y - horizon)))
        hx, hy = person.head
        if 0 <= hx < w and 0 <= hy < h:
            people.append(person)
    return people


def _place_clutter(rng, style, horizon, scale, min_person_px) -> list[Clutter]:
    n = int(rng.integers(style.clutter[0], style.clutter[1] + 1))
    rows = _sample_ground_rows(rng, n, horizon, scale, style.height, 2 * min_person_px, gamma=0.6)
    return [_clutter_at(rng, float(rng.uniform(0, style.width)), float(y), float(scale * (y - horizon)))
            for y in rows]


def _clutter_at(rng, x: float, y: float, person_height: float) -> Clutter:
    kind = _pick(rng, CLUTTER_KINDS)
    palettes = {"pole": ((0.3, 0.3, 0.32), (0.15, 0.2, 0.15)), "bin": ((0.2, 0.35, 0.2), (0.4, 0.4, 0.4)),
                "tree": ((0.2, 0.45, 0.15), (0.3, 0.5, 0.2)), "car": SHIRTS}
    return Clutter(kind, x, y, person_height, _jitter(rng, _pick(rng, palettes[kind]), 0.05))


def _scene(rng: np.random.Generator, style: ViewStyle, count: int, min_person_px: float) -> Scene:
    h = style.height
    horizon = float(rng.uniform(*style.horizon) * h)
    scale = float(rng.uniform(*style.person_height) * h / (h - horizon))
    return Scene(
        style=style, horizon=horizon, person_scale=scale,
        ground=_jitter(rng, _pick(rng, style.ground_palette), 0.05),
        sky=_jitter(rng, _pick(rng, style.sky_palette), 0.05),
        texture=((int(rng.integers(2**31)), 1.0),), tiles=float(style.tiles * rng.uniform(0, 2)),
        clutter=tuple(_place_clutter(rng, style, horizon, scale, min_person_px)),
        people=tuple(_place_people(rng, count, style, horizon, scale, min_person_px)),
        gain=tuple(float(g) for g in rng.uniform(0.75, 1.2) * rng.uniform(0.9, 1.1, size=3)),
        blur=float(rng.uniform(0.0, 1.0)), noise=float(rng.uniform(0.005, 0.03)),
        noise_seed=int(rng.integers(2**31)),
    )


# --------------------------------------------------------------------------------------------
# The three generators


def source_scene(rng: np.random.Generator, style: ViewStyle, count: int, min_person_px: float = 3.0) -> Scene:
    """An unlabelled 'real' image with ``count`` people (the count is the world's secret)."""
    return _scene(rng, style, count, min_person_px)


def remove_people(scene: Scene, rng: np.random.Generator, strength: float,
                  remove_prob: tuple[float, float], clutter_prob: float) -> Scene:
    """The img2img removal edit: fewer people (never more), same layout, globally perturbed.

    Each person is removed with a probability drawn per edit from ``remove_prob``, so an edit can
    keep everybody (count unchanged) or nobody. Where someone stood, clutter appears with
    ``clutter_prob``, as diffusion models paint objects over erased people. ``strength`` scales how
    much colour, texture (noise and paving), blur and sensor noise change everywhere, so the network
    cannot rank a pair by "which one was edited": the perturbations have no preferred direction.
    """
    p_remove = rng.uniform(*remove_prob)
    kept, clutter = [], list(scene.clutter)
    for person in scene.people:
        if rng.uniform() >= p_remove:
            kept.append(replace(person, shirt=_jitter(rng, person.shirt, 0.1 * strength)))
        elif rng.uniform() < clutter_prob:
            clutter.append(_clutter_at(rng, person.x, person.y, person.height))
    texture = tuple((s, w * math.sqrt(1 - strength)) for s, w in scene.texture)
    return replace(
        scene, people=tuple(kept), clutter=tuple(clutter),
        texture=texture + ((int(rng.integers(2**31)), math.sqrt(strength)),),
        tiles=float(scene.tiles * math.exp(rng.normal(0, strength))),
        ground=_jitter(rng, scene.ground, 0.08 * strength), sky=_jitter(rng, scene.sky, 0.08 * strength),
        gain=tuple(float(g * rng.uniform(1 - 0.3 * strength, 1 + 0.3 * strength)) for g in scene.gain),
        blur=float(scene.blur * math.exp(rng.normal(0, strength))),  # median unchanged: no blur cue
        noise=float(scene.noise * rng.uniform(0.5, 1.5)), noise_seed=int(rng.integers(2**31)),
    )


def noisy_count(rng: np.random.Generator, prompted: int, cv: float) -> int:
    """The true count a text-to-image model draws when asked for ``prompted`` people.

    Log-normal around the prompted number with coefficient of variation ``cv`` (prompting for 0
    gives an empty scene), as diffusion models rarely draw the number they are asked for.
    """
    if prompted == 0:
        return 0
    sigma = math.sqrt(math.log1p(cv**2))
    return max(0, int(round(prompted * math.exp(rng.normal(-sigma**2 / 2, sigma)))))


def framed_person_height(prompted: int) -> float:
    """Height of a foreground person (fraction of the image) when a group of ``prompted`` is drawn.

    Text-to-image models frame the group they are asked for: a couple fills the picture, two
    hundred people are a wide shot of small figures. Falls from ~0.3 (N=1) to ~0.09 (N=200).
    """
    return 0.35 / (1 + prompted) ** 0.25


def prompted_scene(rng: np.random.Generator, prompted: int, cv: float, style: ViewStyle = AERIAL,
                   min_person_px: float = 3.0) -> Scene:
    """Text-to-image stand-in: a scene prompted for ``prompted`` people, with a noisy true count."""
    height = framed_person_height(prompted)
    framed = replace(style, person_height=(0.8 * height, 1.2 * height))
    return _scene(rng, framed, noisy_count(rng, prompted, cv), min_person_px)


# --------------------------------------------------------------------------------------------
# Rendering


def _box(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    h, w = canvas.shape[:2]
    c0, r0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    c1, r1 = min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1)))
    return (r0, r1, c0, c1) if c0 < c1 and r0 < r1 else None


def _fill_rect(canvas, x0, y0, x1, y1, colour):
    box = _box(canvas, x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))
    if box:
        r0, r1, c0, c1 = box
        canvas[r0:r1, c0:c1] = colour


def _fill_ellipse(canvas, cx, cy, rx, ry, colour):
    rx, ry = max(rx, 0.6), max(ry, 0.6)
    box = _box(canvas, cx - rx, cy - ry, cx + rx, cy + ry)
    if box:
        r0, r1, c0, c1 = box
        yy, xx = np.ogrid[r0:r1, c0:c1]
        mask = ((xx + 0.5 - cx) / rx) ** 2 + ((yy + 0.5 - cy) / ry) ** 2 <= 1.0
        canvas[r0:r1, c0:c1][mask] = colour


def _draw_person(canvas, p: Person):
    h, half = p.height, 0.11 * p.height * p.build
    _fill_rect(canvas, p.x - half, p.y - 0.46 * h, p.x + half, p.y, p.trousers)
    _fill_ellipse(canvas, p.x + 0.5 * p.lean * h, p.y - 0.6 * h, 0.17 * h * p.build, 0.2 * h, p.shirt)
    hx, hy = p.head
    _fill_ellipse(canvas, hx, hy, 0.1 * h, 0.11 * h, p.skin)
    _fill_ellipse(canvas, hx, hy - 0.05 * h, 0.1 * h, 0.06 * h, p.hair)


def _draw_clutter(canvas, c: Clutter):
    h = c.height
    if c.kind == "pole":
        _fill_rect(canvas, c.x - 0.03 * h, c.y - 1.7 * h, c.x + 0.03 * h, c.y, c.colour)
        _fill_ellipse(canvas, c.x, c.y - 1.7 * h, 0.1 * h, 0.05 * h, (0.9, 0.9, 0.7))
    elif c.kind == "bin":
        _fill_rect(canvas, c.x - 0.15 * h, c.y - 0.45 * h, c.x + 0.15 * h, c.y, c.colour)
    elif c.kind == "tree":
        _fill_rect(canvas, c.x - 0.06 * h, c.y - 1.2 * h, c.x + 0.06 * h, c.y, (0.35, 0.25, 0.15))
        _fill_ellipse(canvas, c.x, c.y - 1.6 * h, 0.55 * h, 0.6 * h, c.colour)
    else:  # car
        _fill_rect(canvas, c.x - 1.0 * h, c.y - 0.55 * h, c.x + 1.0 * h, c.y - 0.1 * h, c.colour)
        _fill_rect(canvas, c.x - 0.6 * h, c.y - 0.85 * h, c.x + 0.5 * h, c.y - 0.5 * h, (0.2, 0.25, 0.3))
        for wheel in (-0.65, 0.65):
            _fill_ellipse(canvas, c.x + wheel * h, c.y - 0.1 * h, 0.15 * h, 0.15 * h, (0.05, 0.05, 0.05))


def _ground_texture(scene: Scene) -> np.ndarray:
    h, w = scene.style.height, scene.style.width
    field = np.zeros((h, w), np.float32)
    for seed, weight in scene.texture:
        coarse = scene_rng(seed).normal(0, 1, size=(12, 16)).astype(np.float32)
        field += weight * np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC))
    return field


def _background(scene: Scene) -> np.ndarray:
    h, w = scene.style.height, scene.style.width
    rows = np.arange(h, dtype=np.float32)[:, None]
    below = np.maximum(rows - scene.horizon, 1.0)
    stripes = scene.tiles * np.sign(np.sin(60.0 * scene.person_scale * h / below))
    shade = 1.0 + 0.08 * _ground_texture(scene) + stripes
    ground = np.asarray(scene.ground, np.float32) * shade[..., None]
    sky_fade = np.clip(1.0 - rows / max(scene.horizon, 1.0), 0, 1)[..., None] * 0.25
    sky = np.asarray(scene.sky, np.float32) * (0.85 + sky_fade) * np.ones((1, w, 1), np.float32)
    return np.where((rows < scene.horizon)[..., None], sky, ground).astype(np.float32)


def render(scene: Scene) -> np.ndarray:
    """Draw the scene back to front (painter's order) and apply camera effects; uint8 HxWx3."""
    canvas = _background(scene)
    items = sorted([*scene.clutter, *scene.people], key=lambda item: item.y)
    for item in items:
        (_draw_person if isinstance(item, Person) else _draw_clutter)(canvas, item)
    canvas *= np.asarray(scene.gain, np.float32)
    image = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    if scene.blur > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(scene.blur))
    noisy = np.asarray(image, np.float32) / 255 + scene_rng(scene.noise_seed).normal(
        0, scene.noise, size=(scene.style.height, scene.style.width, 3)).astype(np.float32)
    return (np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8)
