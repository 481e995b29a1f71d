"""Command-line tools around the pipeline (lineage, batch prediction, the KFP launcher).

They run outside components, so the code fingerprint (the cache key of every
component, pipeline/configs.py) does not cover them: editing a tool reruns nothing.
"""
