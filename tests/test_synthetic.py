"""Tests of the synthetic data generator (yt8m/synthetic/).

Why: every other test, the pipeline and the benchmarks train on this data;
it must be in the exact release format, byte-for-byte reproducible, use real
label sets, keep its oracle out of the data folder, and be learnable the
intended way (aggregating frames beats averaging them).
"""
import glob
import hashlib
import os

import numpy as np
import pytest
import tensorflow as tf

from yt8m import features, synthetic
from yt8m.eval_util import gap_at_k
from yt8m.vocabulary import load_vocabulary

SEED = 123


def _generate(out_dir, seed=SEED, **kwargs):
    kwargs.setdefault('shards', 2)
    kwargs.setdefault('validate_fraction', 0.2)
    kwargs.setdefault('test_fraction', 0.2)
    return synthetic.generate(str(out_dir), 40, seed, **kwargs)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('syn')
    files = _generate(root / 'data')
    return root, files


def _parse(path):
    context = {features.ID: tf.io.FixedLenFeature([], tf.string),
               features.LABELS: tf.io.VarLenFeature(tf.int64)}
    sequence = {key: tf.io.FixedLenSequenceFeature([], tf.string)
                for key in features.FEATURE_SIZES}
    for record in tf.data.TFRecordDataset(path):
        ctx, seq = tf.io.parse_single_sequence_example(record, context,
                                                       sequence)
        yield (ctx[features.ID].numpy(),
               ctx[features.LABELS].values.numpy(),
               {key: seq[key].numpy() for key in features.FEATURE_SIZES})


def _sha256(paths):
    return [hashlib.sha256(open(p, 'rb').read()).hexdigest() for p in paths]


def _table_sets(top_classes=0):
    labels, offsets = synthetic.label_table(top_classes)
    return {tuple(labels[a:b].tolist())
            for a, b in zip(offsets[:-1], offsets[1:])}


def test_files_and_format(dataset):
    root, files = dataset
    data = root / 'data'
    assert sorted(os.listdir(data)) == sorted(
        f'{split}000{i}.tfrecord' for split in synthetic.SPLITS
        for i in range(2))
    assert {s: [os.path.basename(p) for p in files[s]] for s in files} == {
        s: [f'{s}0000.tfrecord', f'{s}0001.tfrecord'] for s in files}
    ids, counts = [], {}
    for split in synthetic.SPLITS:
        counts[split] = 0
        for path in files[split]:
            for vid, labels, seq in _parse(path):
                ids.append(vid)
                counts[split] += 1
                frames = len(seq[features.RGB])
                assert 1 <= frames <= features.MAX_FRAMES
                assert len(seq[features.AUDIO]) == frames
                for key, size in features.FEATURE_SIZES.items():
                    assert {len(v) for v in seq[key]} == {size}
                if split == 'test':
                    assert len(labels) == 0
                else:
                    assert len(labels) >= 1
                    assert labels.min() >= 0
                    assert labels.max() < features.NUM_CLASSES
    assert counts == {'train': 24, 'validate': 8, 'test': 8}
    assert len(set(ids)) == 40
    assert all(i.startswith(b'syn') for i in ids)


def test_serialize_matches_protobuf():
    params = synthetic.make_params(SEED)
    for index in range(5):
        video = synthetic.sample_video(params, index)
        for with_labels in (True, False):
            assert (synthetic.serialize(video, with_labels)
                    == synthetic.serialize_with_protobuf(video, with_labels))


def test_frames_match_sample_video(dataset):
    _, files = dataset
    params = synthetic.make_params(SEED)
    vid, labels, seq = next(_parse(files['train'][0]))
    video = synthetic.sample_video(params, 0)
    assert vid == video.id == b'syn00000000'
    np.testing.assert_array_equal(labels, video.labels)
    assert b''.join(seq[features.RGB]) == video.rgb.tobytes()
    assert b''.join(seq[features.AUDIO]) == video.audio.tobytes()


def test_deterministic(dataset, tmp_path):
    root, files = dataset
    paths = [p for split in synthetic.SPLITS for p in files[split]]
    same = _generate(tmp_path / 'same')
    other = _generate(tmp_path / 'other', seed=SEED + 1)
    flat = lambda f: [p for split in synthetic.SPLITS for p in f[split]]
    assert _sha256(flat(same)) == _sha256(paths)
    assert _sha256([str(tmp_path / 'same_oracle.npz')]) == _sha256(
        [str(root / 'data_oracle.npz')])
    assert not set(_sha256(flat(other))) & set(_sha256(paths))


def test_oracle_beside_data(dataset):
    root, _ = dataset
    oracle = root / 'data_oracle.npz'
    assert oracle.exists()
    assert synthetic.default_params_path(str(root / 'data')) == str(oracle)
    assert synthetic.default_params_path(str(root / 'data') + '/') == str(
        oracle)
    in_data = glob.glob(str(root / 'data' / '**'), recursive=True)
    assert all(p.endswith('.tfrecord') for p in in_data if os.path.isfile(p))
    loaded = synthetic.load_oracle(str(oracle))
    made = synthetic.make_params(SEED)
    assert loaded.knobs == made.knobs and loaded.seed == SEED
    for name in ('rgb_idx', 'rgb_sign', 'audio_idx', 'audio_sign', 'active'):
        np.testing.assert_array_equal(getattr(loaded, name),
                                      getattr(made, name))


def test_refuses_to_overwrite(tmp_path):
    out = tmp_path / 'data'
    synthetic.generate(str(out), 4, SEED)
    with pytest.raises(FileExistsError, match=str(out)):
        synthetic.generate(str(out), 4, SEED)
    before = sorted(os.listdir(out))
    synthetic.generate(str(out), 4, SEED + 1, shards=1, overwrite=True)
    assert sorted(os.listdir(out)) == before
    with pytest.raises(ValueError, match='inside'):
        synthetic.generate(str(tmp_path / 'x'), 4, SEED,
                           params_out=str(tmp_path / 'x' / 'o.npz'))


def test_cli(tmp_path):
    synthetic.main(['--out', str(tmp_path / 'cli'), '--videos', '6',
                    '--seed', '1', '--validate-fraction', '0.5',
                    '--test-fraction', '0', '--top-classes', '20'])
    assert sorted(os.listdir(tmp_path / 'cli')) == [
        'train0000.tfrecord', 'validate0000.tfrecord']
    assert (tmp_path / 'cli_oracle.npz').exists()
    assert synthetic.load_oracle(str(tmp_path / 'cli_oracle.npz')
                                 ).active.sum() == 20
    with pytest.raises(SystemExit):      # refuses, naming the folder
        synthetic.main(['--out', str(tmp_path / 'cli'), '--videos', '6',
                        '--seed', '1'])


def test_label_sets_are_real(dataset):
    _, files = dataset
    real = _table_sets()
    for path in files['train'] + files['validate']:
        for _, labels, _ in _parse(path):
            assert tuple(labels.tolist()) in real
    table = np.load(synthetic.LABEL_TABLE)
    assert int(table['source_rows']) == 980029
    assert 2.9 < table['lengths'].mean() < 3.1
    assert len(np.unique(table['labels'])) == features.NUM_CLASSES
    top = _table_sets(10)
    params = synthetic.make_params(SEED, top_classes=10)
    assert params.active.sum() == 10
    for index in range(20):
        assert tuple(synthetic.sample_video(params, index).labels.tolist()
                     ) in top


def test_lengths_and_values():
    params = synthetic.make_params(SEED)
    rng = np.random.default_rng(0)
    lengths = np.array([synthetic._num_frames(rng) for _ in range(4000)])
    assert lengths.min() >= 1 and lengths.max() == features.MAX_FRAMES
    assert 0.5 < np.mean(lengths >= 200) < 0.7
    assert 0.3 < np.mean(lengths == 300) < 0.4
    x = synthetic.dequantize(np.concatenate(
        [synthetic.sample_video(params, i).rgb for i in range(10)]))
    assert np.mean(np.abs(x) <= 1) > 0.85
    q = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(synthetic.quantize(synthetic.dequantize(q)),
                                  q)


def test_vocabulary():
    names = load_vocabulary()
    assert len(names) == features.NUM_CLASSES
    assert names[:2] == ['Game', 'Video game']
    assert all(names)


def _logistic_regression(x_train, y_train, x_test, steps=300, lr=0.5,
                         l2=1e-2):
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    prior = y_train.mean(0).clip(1e-3, 1 - 1e-3)
    w, b = np.zeros((x_train.shape[1], y_train.shape[1])), np.log(
        prior / (1 - prior))
    for _ in range(steps):
        grad = 1 / (1 + np.exp(-np.clip(x_train @ w + b, -30, 30))) - y_train
        w -= lr * (x_train.T @ grad / len(x_train) + l2 * w)
        b -= lr * grad.mean(0)
    return x_test @ w + b


def test_learnable_by_aggregation_not_by_mean():
    """600 videos, 10 classes: oracle high, max pooling >> mean pooling."""
    params = synthetic.make_params(SEED, top_classes=10)
    videos = [synthetic.sample_video(params, i) for i in range(600)]
    classes = np.flatnonzero(params.active)
    y = np.zeros((len(videos), features.NUM_CLASSES))
    for i, video in enumerate(videos):
        y[i, video.labels] = 1
    y = y[:, classes]
    pooled = {'mean': [], 'max': [], 'max_min_centred': []}
    for video in videos:
        x = np.concatenate([synthetic.dequantize(video.rgb),
                            synthetic.dequantize(video.audio)], axis=1)
        mean, top, bottom = x.mean(0), x.max(0), x.min(0)
        pooled['mean'].append(mean)
        pooled['max'].append(top)
        pooled['max_min_centred'].append(np.concatenate([top - mean,
                                                         mean - bottom]))
    train = 450
    held_out = videos[train:]
    gap = {'oracle': gap_at_k(synthetic.oracle_scores(
        params, [v.rgb for v in held_out], [v.audio for v in held_out]
    )[:, classes], y[train:])}
    gap['prior'] = gap_at_k(np.tile(y[:train].mean(0), (len(held_out), 1)),
                             y[train:])
    for name, x in pooled.items():
        x = np.array(x)
        gap[name] = gap_at_k(_logistic_regression(x[:train], y[:train],
                                                   x[train:]), y[train:])
    print('GAP@20 on 150 held-out videos, 10 classes:',
          {k: round(v, 3) for k, v in gap.items()})
    assert gap['oracle'] > 0.8
    assert gap['max'] > gap['mean'] + 0.2
    assert gap['max_min_centred'] > gap['mean'] + 0.3
    assert gap['mean'] < 0.6
