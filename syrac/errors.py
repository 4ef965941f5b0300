"""The input errors a stage or `syrac count` reports as plain lines, and how a stage stops on them.

It imports nothing from syrac, so any module can raise these without an import circle.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from types import ModuleType


class DatasetError(ValueError):
    """A declared dataset folder does not have the official layout; ``problems`` lists each fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class BadImagesError(ValueError):
    """Unreadable image files under the ``data.bad_images: fail`` policy."""


class MissingWeightsError(RuntimeError):
    """Pretrained weights were asked for but are not on this machine."""


class NotAModelError(ValueError):
    """A file given as a syrac model is something else: an image, a truncated copy, another project's."""


INPUT_ERRORS = (BadImagesError, DatasetError, MissingWeightsError)


@contextmanager
def stop_on_input_errors():
    """Missing weights, a malformed dataset folder or unreadable images end the stage with their
    message and a non-zero exit, no traceback."""
    try:
        yield
    except INPUT_ERRORS as error:
        sys.exit("error: " + str(error).replace("\n", "\nerror: "))


def opencv(error: type[Exception], need: str, instead: str) -> ModuleType:
    """OpenCV, imported where it is first needed: it is an extra (``.[peers]``), so whatever does not use
    it runs without it, and whatever does says what needed it, how to install it, or what to set instead."""
    try:
        import cv2
    except ImportError:
        raise error(f"{need} needs OpenCV: pip install -e \".[peers]\" (make install does it) or "
                    f"pip install 'opencv-python-headless>=4.5,<5'; or {instead}") from None
    return cv2
