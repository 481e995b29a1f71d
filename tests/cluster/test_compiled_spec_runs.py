"""The compiled Kubeflow spec, executed task by task as the KFP 2 launcher would.

Slow (about 6 minutes on 2 cores: every task is a fresh Python process that
imports TFX), so it runs in `scripts/cluster_checks.sh`, not in the unit suite.
The project is copied the way the Dockerfile's `COPY . .` copies it, the spec
is compiled for that copy, and `pipeline.kfp_launcher` runs every task's own
command line. Nothing of the local orchestrator is involved.
"""

import json
import os
import shutil

import pytest

import kubeflow_runner
from pipeline import configs, kfp_launcher
from yt8m import synthetic

pytestmark = pytest.mark.cluster

# .dockerignore's exclusions: what the image does not get.
NOT_IN_IMAGE = shutil.ignore_patterns('.venv', 'outputs', '.git', '__pycache__', '*.egg-info',
                                      '.pytest_cache')


def test_every_task_of_the_compiled_spec_runs_and_a_model_is_pushed(tmp_path):
    project = tmp_path / 'image' / 'pipeline'
    shutil.copytree(configs.PROJECT_DIR, project, ignore=NOT_IN_IMAGE)
    data_root = tmp_path / 'data'
    synthetic.generate(str(data_root), num_videos=300, seed=3, top_classes=5,
                       validate_fraction=0.3)
    spec_file = tmp_path / 'spec.yaml'
    root = tmp_path / 'root'
    kubeflow_runner.main([
        '--output', str(spec_file), '--image', 'yt8m-tfx:test', '--project-dir', str(project),
        '--pipeline-root', str(root), '--data-root', str(data_root),
        '--families', 'dbof', '--distill', 'dbof', '--preset', 'tiny',
        '--train-examples', '800', '--batch-size', '16', '--learning-rate', '0.01',
        '--gap-floor', '0',
        '--min-gain-over-prior', '0.01'])

    launcher = kfp_launcher.Launcher(str(spec_file), str(tmp_path / 'run'), str(project))
    produced = launcher.run()

    assert set(produced) == set(launcher.spec['root']['dag']['tasks'])
    # Custom artifact types travelled through the executor input and back.
    (scores,) = produced['Distiller.student_1']['teacher_scores']
    assert 'yt8m.TeacherScores' in json.dumps(scores['type'])
    assert scores['metadata']['num_videos'] > 0
    # The ExampleGen's driver hook ran: span and fingerprint reached the artifact.
    (examples,) = produced['YT8MExampleGen']['examples']
    assert json.loads(examples['metadata']['split_names']) == ['train', 'eval']
    assert 'input_fingerprint' in examples['metadata']
    # Blessing and pushing went by the metadata the launcher passed on.
    pushed = {}
    for name, outputs in produced.items():
        if name.startswith('Pusher.'):
            (artifact,) = outputs['pushed_model']
            (blessing,) = produced[name.replace('Pusher', 'BlessingGate')]['blessing']
            assert bool(artifact['metadata']['pushed']) == bool(
                blessing['metadata']['blessed']), name
            pushed[name] = bool(artifact['metadata']['pushed'])
    # Learning is judged elsewhere (test_pipeline_e2e, bench_learning); here at
    # least one model must come through the whole chain to the serving folder.
    assert any(pushed.values()), 'no model was pushed'
    for task, was_pushed in pushed.items():
        model_dir = root / 'serving_model' / configs.serving_model_name(task.split('.')[1])
        versions = os.listdir(model_dir) if model_dir.exists() else []
        assert len(versions) == int(was_pushed), task
        if was_pushed:
            assert (model_dir / versions[0] / 'saved_model.pb').exists()
    (report,) = produced['Report']['report']
    assert os.path.exists(os.path.join(report['uri'], 'report.md'))

    # Open-source KFP does not run the lifecycle hook: the ExampleGen task
    # still runs; its Examples only lack the driver's span and fingerprint.
    without_hook = kfp_launcher.Launcher(str(spec_file), str(tmp_path / 'run_oss'),
                                         str(project), run_hooks=False)
    without_hook.run_task('YT8MExampleGen')
    (examples,) = without_hook.produced['YT8MExampleGen']['examples']
    assert json.loads(examples['metadata']['split_names']) == ['train', 'eval']
    assert 'input_fingerprint' not in examples['metadata']
