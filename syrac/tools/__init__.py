"""The tools around the pipeline, the last layer: the `syrac` command, the pre-flight check, params
profiles, runs at several seeds, the generated tables and the shipped photo counter."""
