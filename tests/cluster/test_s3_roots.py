"""The whole local DAG with its data, pipeline, serving and report roots on s3://.

The bucket lives in moto's S3 server (an S3-compatible store, as MinIO is in a
stock Kubeflow install), started here on a local port. TensorFlow reaches it
through tensorflow-io's S3 filesystem, Beam through its aws extra (boto3),
both configured only by the environment a cluster would set
(pipeline/filesystems.py). `local_runner.py` runs unchanged in a child
process; only ML Metadata (SQLite) and the log stay on local disk.
Slow: it runs in scripts/cluster_checks.sh.
"""

import contextlib
import os
import socket
import subprocess
import sys
import time

import pytest

from pipeline import configs
from tests.cluster import remote_roots
from yt8m import synthetic

pytestmark = pytest.mark.cluster

BUCKET = 'yt8m'


@contextlib.contextmanager
def s3_server(tmp_path):
    """moto's server on a free port; yields the environment a client needs."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / 'moto.log', 'w')
    server = subprocess.Popen([sys.executable, '-m', 'moto.server', '-p', str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    endpoint = f'http://127.0.0.1:{port}'
    try:
        for _ in range(200):
            try:
                socket.create_connection(('127.0.0.1', port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {'AWS_ACCESS_KEY_ID': 'test', 'AWS_SECRET_ACCESS_KEY': 'test',
               'AWS_REGION': 'us-east-1', 'AWS_DEFAULT_REGION': 'us-east-1',
               'AWS_ENDPOINT_URL': endpoint,                       # boto3: Beam's s3://
               'S3_ENDPOINT': endpoint, 'S3_USE_HTTPS': '0', 'S3_VERIFY_SSL': '0'}  # TF's
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def bucket_with_the_data(tmp_path, env):
    """The cluster checks' data set uploaded to s3://BUCKET/frame; returns the client."""
    import boto3
    local_data = tmp_path / 'data'
    synthetic.generate(str(local_data), **remote_roots.DATA)
    s3 = boto3.client('s3', endpoint_url=env['AWS_ENDPOINT_URL'], region_name='us-east-1',
                      aws_access_key_id='test', aws_secret_access_key='test')
    s3.create_bucket(Bucket=BUCKET)
    for name in sorted(os.listdir(local_data)):
        s3.upload_file(str(local_data / name), BUCKET, f'frame/{name}')
    return s3


def test_whole_dag_on_s3_roots(tmp_path):
    output_root = tmp_path / 'out'
    workdir = tmp_path / 'cwd'     # a stray os.makedirs('s3://...') would land here
    workdir.mkdir()
    with s3_server(tmp_path) as env:
        s3 = bucket_with_the_data(tmp_path, env)
        run = subprocess.run(
            [sys.executable, os.path.join(configs.PROJECT_DIR, 'local_runner.py'),
             '--data-root', f's3://{BUCKET}/frame',
             '--artifact-root', f's3://{BUCKET}/run', '--output-root', str(output_root),
             *remote_roots.RUN_FLAGS],
            cwd=workdir, env=dict(os.environ, **env), capture_output=True, text=True,
            timeout=1800)
        console = run.stdout + run.stderr
        (tmp_path / 'local_runner.console').write_text(console)
        assert run.returncode == 0, console[-5000:]
        objects = {f's3://{BUCKET}/{item["Key"]}': item['Size']
                   for page in s3.get_paginator('list_objects_v2').paginate(
                       Bucket=BUCKET, Prefix='run/')
                   for item in page.get('Contents', [])}
    remote_roots.check_the_bucket(objects, f's3://{BUCKET}/run', run.stdout, output_root,
                                  workdir)


def test_a_compiled_kfp_task_reaches_minio_with_the_spec_s_endpoint_and_secret_alone(
        tmp_path, monkeypatch):
    """Open-source KFP gives a pod no store settings of its own: the ExampleGen of
    a spec compiled with --object-store-* lists and reads an s3:// data root on an
    S3-compatible server (moto, standing in for MinIO) with what the spec gives it:
    the endpoint in the container's env, the keys from the Secret it names."""
    from tools import kfp_launcher
    with s3_server(tmp_path) as env:
        bucket_with_the_data(tmp_path, env)
        spec = tmp_path / 'spec.yaml'
        compiled = subprocess.run(
            [sys.executable, os.path.join(configs.PROJECT_DIR, 'kubeflow_runner.py'),
             '--target', 'kfp', '--output', str(spec), '--image', 'yt8m-tfx:test',
             '--project-dir', configs.PROJECT_DIR, '--pipeline-root', f's3://{BUCKET}/root',
             '--data-root', f's3://{BUCKET}/frame',
             '--object-store-endpoint', env['AWS_ENDPOINT_URL'],
             '--object-store-secret', 'mlpipeline-minio-artifact',
             '--object-store-secret-keys', 'accesskey,secretkey', *remote_roots.RUN_FLAGS],
            env=dict(os.environ, **env), capture_output=True, text=True, timeout=600)
        assert compiled.returncode == 0, (compiled.stdout + compiled.stderr)[-3000:]
        # This machine's own settings point nowhere: a task that used them would fail.
        for name in env:
            monkeypatch.setenv(name, 'http://127.0.0.1:9' if 'ENDPOINT' in name else 'outer')
        launcher = kfp_launcher.Launcher(
            str(spec), str(tmp_path / 'run'), configs.PROJECT_DIR, backend='kfp',
            secrets={'mlpipeline-minio-artifact': {'accesskey': 'test', 'secretkey': 'test'}})
        launcher.run_task('YT8MExampleGen')
    (examples,) = launcher.produced['YT8MExampleGen']['examples']
    counts = {split: len(os.listdir(os.path.join(examples['uri'], f'Split-{split}')))
              for split in ('train', 'select', 'test')}
    assert all(counts.values()), counts
