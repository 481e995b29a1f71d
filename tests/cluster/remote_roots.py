"""What a whole local DAG on an object store must leave there (gs:// and s3:// checks)."""

import os
import shutil

from pipeline import configs

PRODUCERS = ('YT8MExampleGen', 'Transform', 'Trainer-dbof', 'Quantizer-dbof', 'EnsembleBuilder',
             'Distiller-student-1', 'Evaluator-dbof', 'BlessingGate-dbof', 'Report')
# The data: 420 train videos, 90 select, 90 test. At 300 videos (180 train,
# 45 select, 45 test) DBoF tiny beat the prior by 0.04-0.10 on held-out
# videos, and one CI run blessed no model at all; at 600 by 0.20-0.22.
DATA = dict(num_videos=600, seed=3, top_classes=5, validate_fraction=0.3)
# The run's flags: one family, one student, a tiny budget (100 steps).
RUN_FLAGS = ['--families', 'dbof', '--distill', 'dbof', '--preset', 'tiny',
             '--train-examples', '1600', '--batch-size', '16', '--learning-rate', '0.01',
             '--gap-floor', '0', '--min-gain-over-prior', '0.01']

# .dockerignore's exclusions: what the image does not get.
NOT_IN_IMAGE = shutil.ignore_patterns('.venv', 'outputs', '.git', '__pycache__', '*.egg-info',
                                      '.pytest_cache')


def copy_as_in_image(destination) -> None:
    """The project as the Dockerfile's `COPY . .` copies it, less .dockerignore."""
    shutil.copytree(configs.PROJECT_DIR, destination, ignore=NOT_IN_IMAGE)


def check_the_bucket(objects, run_root: str, stdout: str, output_root, workdir) -> None:
    """`objects`: every object under `run_root` (a URI) -> its size."""
    def under(prefix):
        return {uri: size for uri, size in objects.items()
                if uri.startswith(f'{run_root}/{prefix}')}

    # Every component wrote its artifacts to the bucket.
    for producer in PRODUCERS:
        assert under(f'pipeline_root/{producer}/'), producer
    # Whatever was blessed is pushed into the bucket (at least one model).
    pushed = [line.split()[1] for line in stdout.splitlines()
              if line.startswith('Pushed ') and f'{run_root}/serving_model/' in line]
    assert pushed, stdout[-2000:]
    for family in pushed:
        saved = under(f'serving_model/{configs.serving_model_name(family)}/')
        assert any(uri.endswith('/saved_model.pb') for uri in saved), family
    report = under('report/')
    assert any(uri.endswith('/report.md') for uri in report)
    assert any(uri.endswith('/gap_vs_size.png') for uri in report)
    # Locally there is nothing but ML Metadata and the run's log, and no
    # stray folder named after a URI (os.makedirs('s3://...')).
    assert sorted(os.listdir(output_root)) == ['logs', 'metadata']
    assert os.listdir(workdir) == []
