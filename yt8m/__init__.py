"""YouTube-8M frame-level data: format, reading, checks, metrics, generator.

TensorFlow-free at import: `pipeline.configs` and the runners import
`yt8m.features` without loading TensorFlow or TFX.
"""
