"""The whole local DAG with its data, pipeline, serving and report roots on gs://.

The buckets live in fake-gcs-server, reached through TensorFlow's and Beam's
own GCS clients (tests/fake_gcs.py explains how). `local_runner.py` runs
unchanged in a child process; only ML Metadata (SQLite) stays on local disk.
Slow: it runs in scripts/cluster_checks.sh.
"""

import os
import subprocess
import sys

import pytest

from pipeline import configs
from tests.fake_gcs import fake_gcs
from yt8m import synthetic

pytestmark = pytest.mark.cluster

BUCKET = 'gs://yt8m'


def test_whole_dag_on_gcs_roots(tmp_path):
    local_data = tmp_path / 'data'
    synthetic.generate(str(local_data), num_videos=300, seed=3, top_classes=5,
                       validate_fraction=0.3)
    output_root = tmp_path / 'out'
    workdir = tmp_path / 'cwd'     # a stray os.makedirs('gs://...') would land here
    workdir.mkdir()
    with fake_gcs(tmp_path / 'gcs') as gcs:
        for name in sorted(os.listdir(local_data)):
            gcs.upload(local_data / name, f'{BUCKET}/frame/{name}')
        env = dict(os.environ, **gcs.env)
        run = subprocess.run(
            [sys.executable, os.path.join(configs.PROJECT_DIR, 'local_runner.py'),
             '--data-root', f'{BUCKET}/frame',
             '--artifact-root', f'{BUCKET}/run', '--output-root', str(output_root),
             '--families', 'dbof', '--distill', 'dbof', '--preset', 'tiny',
             '--train-examples', '800', '--batch-size', '16', '--learning-rate', '0.01',
             '--gap-floor', '0',
             '--min-gain-over-prior', '0.01'],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
        log = run.stdout + run.stderr
        (tmp_path / 'local_runner.log').write_text(log)
        assert run.returncode == 0, log[-5000:]
        objects = gcs.list(f'{BUCKET}/run/')

    def under(prefix):
        return {uri: size for uri, size in objects.items()
                if uri.startswith(f'{BUCKET}/run/{prefix}')}

    # Every component wrote its artifacts to the bucket.
    for producer in ('YT8MExampleGen', 'Transform', 'Trainer.dbof', 'Quantizer.dbof',
                     'EnsembleBuilder', 'Distiller.student_1', 'Evaluator.dbof',
                     'BlessingGate.dbof', 'Report'):
        assert under(f'pipeline_root/{producer}/'), producer
    # Whatever was blessed is pushed into the bucket (at least one model).
    pushed = [line.split()[1] for line in run.stdout.splitlines()
              if line.startswith('Pushed ') and f'{BUCKET}/run/serving_model/' in line]
    assert pushed, run.stdout[-2000:]
    for family in pushed:
        saved = under(f'serving_model/{configs.serving_model_name(family)}/')
        assert any(uri.endswith('/saved_model.pb') for uri in saved), family
    reports = [uri for uri in under('report/') if uri.endswith('/report.md')]
    assert reports and any(uri.endswith('/gap_vs_size.png') for uri in under('report/'))
    # Locally there is nothing but ML Metadata.
    assert sorted(os.listdir(output_root)) == ['metadata']
    assert os.listdir(workdir) == []
