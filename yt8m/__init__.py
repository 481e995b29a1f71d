"""YouTube-8M frame-level data: format, reading, checks, metrics, generator."""


def __getattr__(name):
    """`yt8m.TeacherScores`, `yt8m.RunReport`: the artifact types by their TYPE_NAME.

    The Kubeflow v2 entrypoint imports custom artifact types this way
    (components/artifacts.py); imported lazily so `yt8m` needs no TFX.
    """
    from components import artifacts
    if name in artifacts.BY_CLASS_NAME:
        return artifacts.BY_CLASS_NAME[name]
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
