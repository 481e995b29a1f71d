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
from tests.cluster import remote_roots
from tests.fake_gcs import fake_gcs
from yt8m import synthetic

pytestmark = pytest.mark.cluster

BUCKET = 'gs://yt8m'


def test_whole_dag_on_gcs_roots(tmp_path):
    local_data = tmp_path / 'data'
    synthetic.generate(str(local_data), **remote_roots.DATA)
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
             *remote_roots.RUN_FLAGS],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=1800)
        log = run.stdout + run.stderr
        (tmp_path / 'local_runner.log').write_text(log)
        assert run.returncode == 0, log[-5000:]
        objects = gcs.list(f'{BUCKET}/run/')
    remote_roots.check_the_bucket(objects, f'{BUCKET}/run', run.stdout, output_root, workdir)
