"""Frame sampling, training configuration and EMA export in the trainer."""

import os

import numpy as np
import pytest
import tensorflow as tf

from models import registry
from trainer import sampling, training
from trainer.config import TrainingConfig
from yt8m import eval_util, features


def test_cover_every_frame_puts_real_frames_first_then_cycles():
    frames = tf.ragged.constant([[[1.0], [2.0], [3.0]], [[7.0]]], ragged_rank=1)
    covered = sampling.cover_every_frame(frames, tf.constant([3, 1]), slots=7).numpy()
    assert covered[0, :, 0].tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert covered[1, :, 0].tolist() == [7] * 7


def test_training_sampling_draws_real_frames_and_changes_each_call():
    frames = tf.constant(np.arange(10, dtype=np.float32).reshape(1, 10, 1))
    draws = [sampling.sample_with_replacement(frames, tf.constant([4]), slots=300).numpy()
             for _ in range(2)]
    for draw in draws:
        assert set(draw.ravel()) <= {0.0, 1.0, 2.0, 3.0}     # only the 4 real frames
        assert len(set(draw.ravel())) == 4                    # with replacement, all seen
    assert not np.array_equal(draws[0], draws[1])


def _drawn_frame_numbers(drawn: dict) -> list:
    """Which source frame each drawn rgb frame is: its first byte (see records below)."""
    return [[frame[0][0] for frame in video] for video in drawn[features.RGB].to_list()]


def test_raw_frame_draw_picks_k_real_frames_of_the_first_300_and_keeps_audio_aligned():
    import tests.records as records
    from yt8m import reader

    def numbered(video_id, n):   # frame i's bytes all i % 255; 255 past frame 300
        example = tf.train.SequenceExample.FromString(
            records.make_record(video_id, num_frames=n))
        for name in (features.RGB, features.AUDIO):
            for i, frame in enumerate(example.feature_lists.feature_list[name].feature):
                value = 255 if i >= features.MAX_FRAMES else i % 255
                frame.bytes_list.value[0] = bytes([value]) * len(frame.bytes_list.value[0])
        return example.SerializeToString()

    raw = reader.parse_serialized(tf.constant([numbered(b'a', 3), numbered(b'b', 310)]))
    draws = [sampling.draw_raw_frames(raw, 40) for _ in range(5)]
    for drawn in draws:
        short, long = _drawn_frame_numbers(drawn)
        assert len(short) == len(long) == 40
        assert set(short) <= {0, 1, 2}
        assert 255 not in long           # never past the 300 frames decoding keeps
        audio = [[frame[0][0] for frame in video] for video in drawn[features.AUDIO].to_list()]
        assert audio == [short, long]
    seen_short = set().union(*(_drawn_frame_numbers(d)[0] for d in draws))
    assert seen_short == {0, 1, 2}                       # uniform: every frame drawn
    assert _drawn_frame_numbers(draws[0]) != _drawn_frame_numbers(draws[1])   # fresh each call


def test_raw_frame_draw_leaves_an_empty_video_empty_for_decoding_to_name():
    import tests.records as records
    from yt8m import reader
    raw = reader.parse_serialized(tf.constant([records.make_record(b'e', num_frames=0),
                                               records.make_record(b'f', num_frames=2)]))
    drawn = sampling.draw_raw_frames(raw, 5)
    assert drawn[features.RGB].row_lengths().numpy().tolist() == [0, 5]
    with pytest.raises(tf.errors.InvalidArgumentError, match='zero frames'):
        reader.decode_videos(drawn)
    uneven = reader.parse_serialized(tf.constant([records.make_record(b'g', num_frames=4,
                                                                      audio_frames=3)]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match='rgb and audio must have the same number of frames'):
        sampling.draw_raw_frames(uneven, 5)


def test_unknown_training_option_is_rejected():
    with pytest.raises(ValueError, match=r"unknown training options \['lerning_rate'\]"):
        TrainingConfig.from_custom_config({'lerning_rate': 0.1})
    config = TrainingConfig.from_custom_config({'family': 'gru', 'code_fingerprint': 'x'})
    assert config.family == 'gru'


def _toy_dataset(batch=4, frames=300, finite=False):
    rng = np.random.default_rng(0)
    inputs = {features.FRAMES: rng.normal(size=(batch, frames, features.FRAME_SIZE)).astype('f'),
              features.NUM_FRAMES: np.full([batch], frames, np.int64)}
    labels = (rng.random((batch, features.NUM_CLASSES)) < 0.001).astype('f')
    labels[:, 0] = 1.0
    dataset = tf.data.Dataset.from_tensors((inputs, labels))
    return dataset if finite else dataset.repeat()


def test_exported_weights_score_what_the_summary_says(tmp_path):
    """Best-or-EMA export: the returned weights reproduce the GAP the summary reports."""
    config = TrainingConfig(family='logistic', preset='tiny', ema_steps=3, ema_gamma=0.5,
                            learning_rate=0.1, batch_size=4, patience=0, train_examples=16)
    model, weights, summary = training.train_model(
        config, _toy_dataset(), _toy_dataset(finite=True))
    assert summary['ema_steps'] == 3 and summary['budget_steps'] == 4
    assert [p['phase'] for p in summary['curve']].count('ema') == 1
    exported = training.build_export_model(config, weights)
    for got, want in zip(exported.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    inputs, labels = next(iter(_toy_dataset(finite=True)))
    gap = eval_util.gap_at_k(exported(inputs, training=False).numpy(), labels.numpy())
    chosen = summary['ema_eval_gap'] if summary['exported'] == 'ema' else summary['best_eval_gap']
    assert gap == pytest.approx(chosen, abs=1e-6)


def test_budget_is_examples_and_batch_size():
    config = TrainingConfig(train_examples=1000, batch_size=64)
    assert config.budget_steps == 16      # ceil(1000 / 64)
    with pytest.raises(ValueError, match='train_examples must be >= 1'):
        TrainingConfig(train_examples=0)
    assert training.evaluation_interval(config, 16) == 2           # 10 evaluations per budget
    assert training.evaluation_interval(
        TrainingConfig(eval_every_examples=320, batch_size=64), 16) == 5


def test_tensorboard_scalars_are_written(tmp_path):
    config = TrainingConfig(family='logistic', preset='tiny', learning_rate=0.1,
                            batch_size=4, patience=0, train_examples=12)
    training.train_model(config, _toy_dataset(), _toy_dataset(finite=True),
                         log_dir=str(tmp_path))
    names = set()
    for path in tf.io.gfile.glob(str(tmp_path / 'events.out.tfevents.*')):
        for event in tf.compat.v1.train.summary_iterator(path):
            names.update(value.tag for value in event.summary.value)
    assert {'loss', 'eval/gap_at_20', 'eval/loss', 'learning_rate',
            'examples_per_second'} <= names


def test_early_stopping_keeps_the_best_weights():
    """Four videos are learnt at once; GAP then stalls, training stops, the best is kept."""
    config = TrainingConfig(family='logistic', preset='tiny', learning_rate=0.5,
                            batch_size=4, patience=2, train_examples=160)
    model, weights, summary = training.train_model(
        config, _toy_dataset(), _toy_dataset(finite=True))
    gaps = [p['eval_gap'] for p in summary['curve']]
    assert summary['stopped_early'] and len(gaps) < 10
    assert summary['best_eval_gap'] == max(gaps)
    assert gaps.index(max(gaps)) == len(gaps) - 1 - config.patience
    inputs, labels = next(iter(_toy_dataset(finite=True)))
    assert eval_util.gap_at_k(model(inputs, training=False).numpy(),
                              labels.numpy()) == pytest.approx(max(gaps), abs=1e-6)


def test_an_empty_select_split_fails_clearly():
    from trainer import monitor
    empty = _toy_dataset(finite=True).take(0)
    with pytest.raises(ValueError, match='select split holds no videos'):
        monitor.cache_batches(empty, 100)


def test_the_select_cache_stays_under_its_byte_bound():
    """A large select split: the cache stops at the bound, not at the split's end."""
    import tensorflow as tf
    from trainer import monitor
    frames = tf.zeros([64, 300, 1152], tf.float32)   # 1.4 MB a video, 88 MB in all
    dataset = tf.data.Dataset.from_tensor_slices(
        ({'frames': frames, 'num_frames': tf.fill([64], 300)}, tf.zeros([64, 10]))).batch(8)
    bound = 20 * 300 * 1152 * 4   # room for 20 videos: two batches of 8
    batches = monitor.cache_batches(dataset, max_examples=10_000, max_bytes=bound)
    assert sum(len(labels) for _, labels in batches) == 16
    assert sum(labels.nbytes + sum(v.numpy().nbytes for v in inputs.values())
               for inputs, labels in batches) <= bound
    # Held as tensors, so an evaluation feeds them without copying each batch again.
    assert all(isinstance(v, tf.Tensor) for inputs, _ in batches for v in inputs.values())
    # Without a bound it holds all of them; one batch over the bound is still kept.
    assert sum(len(labels) for _, labels in monitor.cache_batches(dataset, 10_000)) == 64
    assert len(monitor.cache_batches(dataset, 10_000, max_bytes=1)) == 1


@pytest.mark.cluster   # ~45 s of two TF processes: scripts/cluster_checks.sh
def test_multi_worker_training_both_train_only_the_chief_exports(tmp_path):
    """Two local worker processes under MultiWorkerMirroredStrategy (TF_CONFIG on localhost)."""
    import json
    import socket
    import subprocess
    import sys
    from tests import component_inputs

    examples = component_inputs.make_examples(str(tmp_path), 24, seed=0, top_classes=5)
    component_inputs.make_transform_graph(str(tmp_path), examples)
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(('localhost', 0))
            ports.append(s.getsockname()[1])
    cluster = {'worker': [f'localhost:{port}' for port in ports]}
    output = tmp_path / 'out'
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
        workers.append(subprocess.Popen(
            [sys.executable, '-m', 'tests.multi_worker_child', str(tmp_path), str(output)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    logs = [worker.communicate(timeout=600)[0] for worker in workers]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]
    assert 'Training dbof/tiny' in logs[0] and 'Training dbof/tiny' in logs[1]
    assert 'Worker worker/1 trained' in logs[1] and 'Exported dbof' in logs[0]
    assert 'Exported dbof' not in logs[1]
    assert os.path.exists(output / 'serving' / 'saved_model.pb')


def _record_files(tmp_path, videos=12):
    from tests import records
    plain = tmp_path / 'train-0.tfrecord'
    with tf.io.TFRecordWriter(str(plain)) as writer:
        for index in range(videos):
            writer.write(records.make_record(f'v{index:03d}'.encode(), num_frames=3))
    gz = tmp_path / 'gz' / 'data-00000-of-00001.gz'
    gz.parent.mkdir()
    with tf.io.TFRecordWriter(str(gz), options='GZIP') as writer:
        for record in tf.data.TFRecordDataset(str(plain)):
            writer.write(record.numpy())
    return str(plain), str(gz)


def _ids(dataset, batches):
    return [i.decode() for raw in dataset.take(batches)
            for i in raw[features.ID].flat_values.numpy()]


def test_input_pipeline_reads_plain_and_gzip_records_cached_or_streamed(tmp_path):
    from trainer import input_pipeline
    plain, gz = _record_files(tmp_path)
    assert input_pipeline.fits_in_cache([gz], 1 << 30)
    assert not input_pipeline.fits_in_cache([gz], 1000) and not input_pipeline.fits_in_cache([gz], 0)
    expected = sorted(f'v{index:03d}' for index in range(12))
    for pattern in (plain, os.path.dirname(gz) + '/*'):
        once = input_pipeline.raw_dataset([pattern], 4, shuffle=False, num_epochs=1)
        assert _ids(once, 10) == expected                       # eval: one pass, in order
        for cache in (1 << 30, 0):                              # cached, then streamed
            train = input_pipeline.raw_dataset([pattern], 4, shuffle=True, seed=1,
                                               cache_bytes=cache)
            epochs = _ids(train, 9)                             # three epochs of 12
            assert sorted(epochs) == sorted(expected * 3)
            assert epochs[:12] != epochs[12:24]                 # reshuffled each epoch


def test_input_pipeline_names_a_pattern_without_files(tmp_path):
    from trainer import input_pipeline
    with pytest.raises(FileNotFoundError, match='no record files match'):
        input_pipeline.raw_dataset([str(tmp_path / 'nothing' / '*')], 4, shuffle=True)


def test_an_epochs_budget_becomes_examples_from_the_example_gens_count(tmp_path):
    from components import artifact_files
    config = TrainingConfig(epochs=2.5, batch_size=32)
    assert config.resolve_epochs(1000).train_examples == 2500
    assert config.resolve_epochs(1000).budget_steps == 79
    assert TrainingConfig(train_examples=640).resolve_epochs(1000).train_examples == 640
    with pytest.raises(ValueError, match='train split holds no records'):
        config.resolve_epochs(0)
    artifact_files.write_json(str(tmp_path), artifact_files.BAD_RECORDS,
                              {'good_records': {'train': 1000, 'select': 200}})
    assert artifact_files.split_records(str(tmp_path), 'train') == 1000
    with pytest.raises(ValueError, match=r"no record count of split 'test'"):
        artifact_files.split_records(str(tmp_path), 'test')


def _trained_member(folder, train_examples: int):
    """A logistic tiny member trained on the toy set and saved in the object layout
    of trainer/export.py's ServingModule (the model under `model`): (config,
    its weights, its summary, the folder)."""
    config = TrainingConfig(family='logistic', preset='tiny', learning_rate=0.5,
                            batch_size=4, patience=0, train_examples=train_examples)
    _, weights, summary = training.train_model(config, _toy_dataset(),
                                               _toy_dataset(finite=True))
    module = tf.Module()
    module.model = training.build_export_model(config, weights)
    tf.saved_model.save(module, str(folder))
    return config, weights, summary, str(folder)


def test_warm_start_loads_a_members_weights_and_refuses_another_preset(tmp_path):
    config, weights, _, folder = _trained_member(tmp_path / 'member', 16)
    student = training.build_export_model(config, [np.zeros_like(w) for w in weights])
    training.warm_start(student, folder)
    for got, want in zip(student.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    other = TrainingConfig(family='dbof', preset='tiny')
    with pytest.raises(ValueError, match='member.*do not fit'):
        training.warm_start(registry.build_model(other.family, other.preset), folder)


def test_a_warm_started_student_never_keeps_weights_below_its_start(tmp_path):
    """Its start is scored on select as the first point; a wrecking step cannot replace it."""
    _, _, first, folder = _trained_member(tmp_path / 'member', 40)
    wrecking = TrainingConfig(family='logistic', preset='tiny', learning_rate=500.0,
                              batch_size=4, patience=0, train_examples=8)
    _, _, summary = training.train_model(wrecking, _toy_dataset(),
                                         _toy_dataset(finite=True), init_from=folder)
    start = summary['curve'][0]
    assert start['step'] == 0
    assert start['eval_gap'] == pytest.approx(first['best_eval_gap'], abs=1e-6)
    assert summary['best_eval_gap'] >= start['eval_gap']
    assert summary['best_eval_gap'] == max(p['eval_gap'] for p in summary['curve'])
