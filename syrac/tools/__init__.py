"""The tools around the pipeline, the last layer: the `syrac` command, the pre-flight check, params
profiles, runs at several seeds, the generated tables, the shipped photo counter and the detector-anchor
study of a photo record."""
