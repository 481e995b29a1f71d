"""The project's own artifact types, importable by their type names.

On Kubeflow Pipelines v2, the TFX entrypoint in each pod rebuilds a custom
artifact's Python class from its schema title, which is the TYPE_NAME, by
importing `<module>.<class>`: `yt8m.TeacherScores` is looked up as the
attribute `TeacherScores` of the package `yt8m`. KFP also requires the title
to be `<namespace>.<Title>` with one dot. So the types live here, and
`yt8m/__init__.py` hands them out lazily by name (it stays free of TFX for
everything else).
"""

from tfx.types.artifact import Artifact


class TeacherScores(Artifact):
    """TFRecord shards of the teacher's top-K per video (ids, int16 classes, float16 scores)."""
    TYPE_NAME = 'yt8m.TeacherScores'


class RunReport(Artifact):
    """A folder with report.md, report.json and the plots of one run."""
    TYPE_NAME = 'yt8m.RunReport'


class VideoSample(Artifact):
    """A few records of the test split and the ExampleGen's record check, written
    by YT8MExampleGen: what the Report shows, without taking the whole Examples
    (which open-source KFP would copy into the Report's pod)."""
    TYPE_NAME = 'yt8m.VideoSample'


BY_CLASS_NAME = {cls.__name__: cls for cls in (TeacherScores, RunReport, VideoSample)}
