"""The compiled Kubeflow spec, executed task by task as each backend would run it.

Slow (every task is a fresh Python process that imports TFX), so it runs in
`scripts/cluster_checks.sh`, not in the unit suite. The project is copied the
way the Dockerfile's `COPY . .` copies it, the spec is compiled for that copy,
and `tools.kfp_launcher` runs every task's own command line, handing tasks
over as open-source KFP 2.5 does (typeless inputs, `executor-logs`, no hook,
its cache key) and as Vertex AI does. Nothing of the local orchestrator is
involved.
"""

import json
import os
import shutil

import pytest

import kubeflow_runner
from pipeline import configs
from tests.cluster import remote_roots
from tools import kfp_launcher
from yt8m import synthetic

pytestmark = pytest.mark.cluster



@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('compiled')
    project = tmp / 'image' / 'pipeline'
    remote_roots.copy_as_in_image(project)
    data_root = tmp / 'data'
    synthetic.generate(str(data_root), **remote_roots.DATA)
    return tmp, project, data_root


def _compile(setup, target, root_name, *flags):
    tmp, project, data_root = setup
    spec_file = tmp / f'spec_{target}_{root_name}.yaml'
    kubeflow_runner.main([
        '--target', target, '--output', str(spec_file), '--image', 'yt8m-tfx:test',
        '--project-dir', str(project), '--allow-local-roots',
        '--pipeline-root', str(tmp / root_name), '--data-root', str(data_root),
        *remote_roots.RUN_FLAGS, *flags])
    return spec_file


def _model_name(task):
    return task.split('-', 1)[1].replace('-', '_')   # Pusher-student-1 -> student_1


def _check_the_run(launcher, produced, root):
    assert set(produced) == set(launcher.spec['root']['dag']['tasks'])
    # Custom artifact types travelled through the executor input and back.
    (scores,) = produced['TeacherScorer-ensemble']['teacher_scores']
    assert scores['metadata']['num_videos'] > 0
    # Span and input fingerprint reach the Examples with the hook (Vertex) and without (KFP).
    (examples,) = produced['YT8MExampleGen']['examples']
    assert json.loads(examples['metadata']['split_names']) == ['train', 'select', 'test']
    assert examples['metadata']['input_fingerprint'] and 'span' in examples['metadata']
    # Blessing and pushing went by the metadata the launcher passed on.
    pushed = {}
    for name, outputs in produced.items():
        if name.startswith('Pusher-'):
            (artifact,) = outputs['pushed_model']
            (blessing,) = produced[name.replace('Pusher', 'BlessingGate')]['blessing']
            assert bool(artifact['metadata']['pushed']) == bool(
                blessing['metadata']['blessed']), name
            pushed[name] = bool(artifact['metadata']['pushed'])
    # Learning is judged elsewhere (test_pipeline_e2e, bench_learning); here at
    # least one model must come through the whole chain to the serving folder.
    assert any(pushed.values()), 'no model was pushed'
    for task, was_pushed in pushed.items():
        model_dir = root / 'serving_model' / configs.serving_model_name(_model_name(task))
        versions = os.listdir(model_dir) if model_dir.exists() else []
        assert len(versions) >= int(was_pushed), task
        if was_pushed:
            assert (model_dir / max(versions) / 'saved_model.pb').exists()
    (report,) = produced['Report']['report']
    assert os.path.exists(os.path.join(report['uri'], 'report.md'))
    return pushed


def test_vertex_runs_every_task_and_pushes_a_model(setup):
    tmp, project, _ = setup
    spec_file = _compile(setup, 'vertex', 'root_vertex')
    launcher = kfp_launcher.Launcher(str(spec_file), str(tmp / 'run_vertex'), str(project),
                                     backend='vertex')
    produced = launcher.run()
    (scores,) = produced['TeacherScorer-ensemble']['teacher_scores']
    assert 'yt8m.TeacherScores' in json.dumps(scores['type'])
    _check_the_run(launcher, produced, tmp / 'root_vertex')


def test_open_source_kfp_runs_every_task_caches_what_it_may_and_never_stale_data(setup):
    tmp, project, data_root = setup
    spec_file = _compile(setup, 'kfp', 'root_kfp')
    cache = str(tmp / 'kfp_cache')
    first = kfp_launcher.Launcher(str(spec_file), str(tmp / 'run_kfp'), str(project),
                                  backend='kfp', cache_dir=cache)
    produced = first.run()
    assert first.cached == []
    pushed = _check_the_run(first, produced, tmp / 'root_kfp')
    # Every task got KFP's extra executor-logs output, and the log landed there.
    (logs,) = produced['Trainer-dbof']['executor-logs']
    assert os.path.getsize(logs['uri']) > 0
    # What KFP 2.5's launcher would copy into pods with a gs:// root: every
    # input artifact, the Examples once per consumer.
    examples_bytes = first.input_bytes['StatisticsGen']['examples']
    consumers = [task for task, inputs in first.input_bytes.items() if 'examples' in inputs]
    assert examples_bytes > 0 and len(consumers) >= 8
    copied = sum(sum(inputs.values()) for inputs in first.input_bytes.values())
    print(f'\nKFP 2.5 launcher would copy {copied} bytes into pods ({len(consumers)} tasks '
          f'read the {examples_bytes}-byte Examples)')
    # Every input came through ML Metadata: named by its MLMD id, with KFP's
    # own properties added and no `_kfp_workspace` key.
    for outputs in produced.values():
        for listing in outputs.values():
            for artifact in listing:
                assert artifact['name'].isdigit(), artifact
                assert artifact['metadata']['display_name'] and \
                    'store_session_info' in artifact['metadata']
                assert '_kfp_workspace' not in artifact['metadata']

    # Nothing changed: the same spec again. Every task is served from the
    # cache but the BaselineLookups (they read the live serving folder) and
    # what follows them; a newly pushed model is therefore seen.
    again = kfp_launcher.Launcher(str(spec_file), str(tmp / 'run_kfp2'), str(project),
                                  backend='kfp', cache_dir=cache)
    again.run()
    ran = set(again.produced) - set(again.cached)
    assert {'YT8MExampleGen', 'Transform', 'Trainer-dbof', 'Quantizer-dbof', 'EnsembleBuilder',
            'Distiller-student-1', 'LabelPrior'} <= set(again.cached)
    assert {task for task in ran if task.startswith('BaselineLookup-')} == {
        task.replace('Pusher', 'BaselineLookup') for task in pushed}
    for task, was_pushed in pushed.items():
        if was_pushed:   # the first run's push is now the baseline
            (baseline,) = again.produced[task.replace('Pusher', 'BaselineLookup')][
                'baseline_model']
            assert 'serving_model' in baseline['metadata']['baseline_source'], task

    # New data lands: the spec compiled before it is refused, a recompiled
    # one runs the ExampleGen instead of serving the old Examples.
    # New videos (the last 20 ids past the data's own): the generator numbers
    # from 0, and a copy of ids already read would be refused as a leak, rightly.
    shards = remote_roots.DATA['num_videos'] // 20 + 1
    synthetic.generate(str(tmp / 'more'), num_videos=20 * shards, seed=9, top_classes=5,
                       validate_fraction=0.0, test_fraction=0.0, shards=shards)
    shutil.copy(tmp / 'more' / f'train{shards - 1:04d}.tfrecord', data_root / 'train0999.tfrecord')
    with pytest.raises(SystemExit, match='input files changed since this spec was compiled'):
        kubeflow_runner.check_data_unchanged(kfp_launcher.Launcher(
            str(spec_file), str(tmp / 'unused'), str(project), backend='kfp').spec)
    recompiled = _compile(setup, 'kfp', 'root_kfp')
    fresh = kfp_launcher.Launcher(str(recompiled), str(tmp / 'run_kfp3'), str(project),
                                  backend='kfp', cache_dir=cache)
    fresh.run_task('YT8MExampleGen')
    assert fresh.cached == []
    os.remove(data_root / 'train0999.tfrecord')


def test_kfp_with_an_artifact_volume_copies_no_artifact_and_still_pushes_and_caches(setup):
    """The design for the release on open-source KFP: artifacts on a mounted
    ReadWriteMany volume, reported there, so the launcher copies none."""
    tmp, project, _ = setup
    spec_file = _compile(setup, 'kfp', 'root_volume', '--artifact-volume',
                         'yt8m-artifacts:/mnt/yt8m')
    volume = tmp / 'volume'
    cache = str(tmp / 'volume_cache')

    def launcher(run):
        return kfp_launcher.Launcher(str(spec_file), str(tmp / run), str(project),
                                     backend='kfp', cache_dir=cache,
                                     volumes={'yt8m-artifacts': str(volume)})
    first = launcher('run_volume')
    produced = first.run()
    pushed = _check_the_run(first, produced, tmp / 'root_volume')
    # Every artifact of the pipeline lives on the volume; only KFP's own logs
    # stay in the bucket. So no task downloads anything into its pod.
    for task, outputs in produced.items():
        for key, (artifact,) in outputs.items():
            on_volume = artifact['uri'].startswith(str(volume))
            assert on_volume == (key != 'executor-logs'), (task, key, artifact['uri'])
    copied = {task: sum(inputs.values()) for task, inputs in first.input_bytes.items()}
    print(f'\nWith the artifact volume, KFP\'s launcher would copy {sum(copied.values())} '
          'bytes into pods')
    assert sum(copied.values()) == 0, copied
    # The same spec again: served from the cache (ML Metadata ids), lookups live.
    again = launcher('run_volume2')
    again.run()
    assert {'YT8MExampleGen', 'Transform', 'Trainer-dbof', 'Distiller-student-1'} <= set(
        again.cached)
    assert any(pushed.values())
