"""Frames of a video (or of a folder of frames) to count as a time series.

OpenCV reads the common video files (its wheel is built with FFmpeg); it comes with the ``peers``
extra and stays optional: without it a video is refused with what to install. A video's header is
not trusted: a file that claims millions of frames is read until its stream ends, and a truncated
stream keeps the frames decoded before the break, with a note saying where it broke.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from syrac import storage
from syrac.errors import opencv

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class Every:
    """How often a frame is counted: every ``value`` frames, or every ``value`` seconds."""

    value: float
    seconds: bool

    @classmethod
    def parse(cls, text: str) -> Every:
        """``30`` (frames) or ``2s`` / ``0.5s`` (seconds)."""
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(s?)", text.strip())
        if not match or float(match.group(1)) <= 0 or (not match.group(2) and not match.group(1).isdigit()):
            raise ValueError(f"--every: N frames (a whole number >= 1) or Ns seconds (e.g. 2s, 0.5s), got {text!r}")
        return cls(float(match.group(1)), bool(match.group(2)))

    def step(self, fps: float | None, what: str) -> int:
        """Frames between two counted frames at ``fps``."""
        if not self.seconds:
            return int(self.value)
        if not fps:
            raise ValueError(f"{what}: its frame rate is unknown, so --every cannot be in seconds; give it in frames "
                             "(e.g. --every 25)")
        return max(1, round(self.value * fps))

    def __str__(self) -> str:
        return f"{self.value:g}s" if self.seconds else f"{int(self.value)} frames"


@dataclass(frozen=True)
class Frame:
    index: int  # in the video (or the folder's sorted listing)
    time: float | None  # seconds from the start, where the frame rate is known
    image: Image.Image


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


class VideoFrames:
    """The frames of one video file to count, every ``every``; iterate once. ``claimed`` is the frame
    count its header gives (may be wrong), ``note`` says after iterating whether the stream ended
    before it."""

    def __init__(self, path: Path, every: Every, max_pixels: int | None = None):
        cv2 = opencv(ValueError, "reading a video", "count its frames as a folder of images")
        self.path, self.capture = path, cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise ValueError(f"{path}: not a readable video (OpenCV cannot open it)")
        width, height = (int(self.capture.get(p)) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        max_pixels = max_pixels or storage.MAX_DECODE_PIXELS
        if width * height > max_pixels:
            self.capture.release()
            raise ValueError(f"{path}: frames too large to decode ({width} x {height} pixels, over the budget of "
                             f"{max_pixels:,})")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if math.isfinite(fps) and 0 < fps < 10_000 else None
        claimed = self.capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.claimed = int(claimed) if math.isfinite(claimed) and claimed > 0 else None
        self.step = every.step(self.fps, str(path))
        self.note = ""

    def __len__(self) -> int:
        """Frames to count if the header is right (for progress only)."""
        return math.ceil(self.claimed / self.step) if self.claimed else 0

    def __iter__(self) -> Iterator[Frame]:
        index = decoded = 0
        try:
            while self.capture.grab():  # every frame is grabbed: inter-frame codecs need them all
                if index % self.step == 0:
                    ok, pixels = self.capture.retrieve()
                    if not ok:
                        break
                    decoded += 1
                    yield Frame(index, index / self.fps if self.fps else None,
                                Image.fromarray(np.ascontiguousarray(pixels[..., ::-1])))
                index += 1
        finally:
            self.capture.release()
        if not decoded:
            raise ValueError(f"{self.path}: not a readable video (no frame could be decoded)")
        if self.claimed and index < self.claimed - 1:
            self.note = (f"{self.path}: the stream ended at frame {index} of the {self.claimed} its header claims "
                         "(truncated?); the frames before it are counted")
