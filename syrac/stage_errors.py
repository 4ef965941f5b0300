"""How a stage stops on bad input: one clear message per problem and a non-zero exit, no traceback."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from syrac.benchmarks import BadImagesError
from syrac.datasets import DatasetError
from syrac.model import MissingWeightsError

INPUT_ERRORS = (BadImagesError, DatasetError, MissingWeightsError)


@contextmanager
def stop_on_input_errors():
    """Missing weights, a malformed dataset folder or unreadable images end the stage with their message."""
    try:
        yield
    except INPUT_ERRORS as error:
        sys.exit("error: " + str(error).replace("\n", "\nerror: "))
