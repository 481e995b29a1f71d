"""YouTube-8M frame-level data: format, reading, checks, metrics, generator.

TensorFlow-free at import: `pipeline.configs` and the runners import
`yt8m.features` without loading TensorFlow or TFX.
"""

_ARTIFACT_TYPES = ('TeacherScores', 'RunReport', 'VideoSample')


def __getattr__(name):
    """The project's artifact types by their titles (`yt8m.VideoSample`), loaded
    on first use: TFX code that imports a type by its title without the
    image's entrypoint (Vertex AI's ExampleGen hook) finds it here."""
    if name in _ARTIFACT_TYPES:
        from components import artifacts
        return artifacts.BY_CLASS_NAME[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
