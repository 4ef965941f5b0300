"""One script per DVC stage. dvc.yaml runs each as ``python -m stages.<name>`` from the repository
root, so a stage imports the ``syrac`` beside it, not an installed one from another folder: a queued
or ``--temp`` ``dvc exp run`` works in a copy of the repository, and runs that copy's code."""
