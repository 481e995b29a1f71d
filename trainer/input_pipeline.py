"""tf.data input pipeline: raw records -> transform graph -> frame sampling.

Transform runs with `materialize=False` (materialized float frames are ~4x
the raw records), so the trainer reads the raw SequenceExamples itself,
parses them with `yt8m.reader.parse_serialized` (the exact layout TFXIO
gives, and the one the serving signature parses), applies the transform
graph, then the training-time frame sampling (see `trainer/sampling.py`).

Why not TFXIO's dataset factory: on 2 cores it fed the model at half the
speed the model trains from memory (benchmarks/bench_trainer_input.py).
Where the time went, measured: GZIP inflation of the records (~1 ms a video
on one core, every epoch) and the transform graph (~1.6 ms a video). So:

* files are read with parallel interleave (several GZIP streams at once
  where there are several files);
* a split whose files fit `cache_bytes` is inflated once and held in memory
  as serialized records (YouTube-8M's uint8 features barely compress: the
  records take about 1.1x their GZIP size), then reshuffled every epoch;
  a larger split streams from storage each epoch, at the same memory;
* records are parsed and transformed a batch at a time, in parallel.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from trainer import sampling
from yt8m import features, folds, reader

# Bytes of serialized records per byte of GZIP file, assumed when deciding
# whether a split fits the cache (measured ~1.1 on YouTube-8M-style
# records; a margin above it keeps the bound a bound).
INFLATION = 1.5


def model_inputs(transformed: dict) -> dict:
    return {features.FRAMES: transformed[features.FRAMES],
            features.NUM_FRAMES: transformed[features.NUM_FRAMES]}


def list_files(file_pattern: List[str]) -> List[str]:
    """The files of one or more patterns (a TFX split uri + '/*'), sorted; none is an error."""
    files = sorted({path for pattern in file_pattern for path in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f'no record files match {file_pattern}')
    return files


def fits_in_cache(files: List[str], cache_bytes: int) -> bool:
    """Whether the inflated records of `files` stay under `cache_bytes`."""
    size = sum(tf.io.gfile.stat(path).length for path in files)
    return cache_bytes > 0 and size * INFLATION <= cache_bytes


def raw_dataset(file_pattern: List[str], batch_size: int, shuffle: bool, seed: int = 0,
                shuffle_buffer: int = 1024, num_epochs: Optional[int] = None,
                cache_bytes: int = 0,
                exclude_fold: Optional[Tuple[int, int]] = None,
                records: Optional[tf.data.Dataset] = None) -> tf.data.Dataset:
    """Batches of raw (untransformed) features (None epochs: repeats forever).

    The ExampleGen writes GZIP files (`*.gz`); other files are read as plain
    TFRecords. `cache_bytes`: hold the split in memory when it fits.
    `exclude_fold=(fold, folds)` leaves out the videos of that teacher fold
    (yt8m/folds.py): what a fold copy of a model trains on.
    `records`: the split's records as `split_records` gave them, so that a
    model and its fold copies share one in-memory cache (`file_pattern` and
    `cache_bytes` are then not read).
    """
    if records is None:
        records = split_records(file_pattern, shuffle, seed, cache_bytes if shuffle else 0)
    records = _without_fold(records, exclude_fold)
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    records = records.repeat(num_epochs)
    return records.batch(batch_size).map(reader.parse_serialized,
                                         num_parallel_calls=tf.data.AUTOTUNE)


def split_records(file_pattern: List[str], shuffle: bool, seed: int = 0,
                  cache_bytes: int = 0) -> tf.data.Dataset:
    """A split's serialized records, held in memory once read when they fit `cache_bytes`.

    tf.data shares a `cache()` between every pipeline built on the same
    dataset object, so the fold copies of a model, built on the records the
    main model read, train from memory from their first step instead of
    inflating the split's GZIP files again (yt8m/folds.py: the fold is
    then filtered after the cache).
    """
    files = list_files(file_pattern)
    records = _records(files, shuffle, seed)
    if fits_in_cache(files, cache_bytes):
        records = records.cache()
    return records


def _without_fold(records: tf.data.Dataset,
                  exclude_fold: Optional[Tuple[int, int]]) -> tf.data.Dataset:
    """`records` less the videos of teacher fold `exclude_fold=(fold, folds)`, if given."""
    if exclude_fold is None:
        return records
    fold, num_folds = exclude_fold
    return records.filter(
        lambda record: folds.record_fold(record, num_folds, features.ID) != fold)


def _records(files: List[str], shuffle: bool, seed: int) -> tf.data.Dataset:
    """Serialized records of `files`, interleaved (in a shuffled file order if `shuffle`)."""
    compression = 'GZIP' if all(path.endswith('.gz') for path in files) else ''
    names = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        names = names.shuffle(len(files), seed=seed)
    return names.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression),
        cycle_length=min(len(files), 4), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle)


def label_batches(file_pattern: List[str], batch_size: int,
                  exclude_fold: Optional[Tuple[int, int]] = None) -> tf.data.Dataset:
    """One pass of multi-hot label batches (float32 [batch, NUM_CLASSES]), frames never parsed.

    What the label prior a model starts from needs (`training.label_frequencies`):
    the context's class ids only, so no frame is parsed, dequantized or
    transformed, and the training input's shuffle buffer is not filled twice.
    """
    records = _records(list_files(file_pattern), shuffle=False, seed=0)
    records = _without_fold(records, exclude_fold)
    return distribute_by_data(records.batch(batch_size).map(
        reader.parse_labels_multi_hot, num_parallel_calls=tf.data.AUTOTUNE))


def make_dataset(file_pattern: List[str], tf_transform_output: tft.TFTransformOutput,
                 batch_size: int, training: bool, seed: int = 0,
                 shuffle_buffer: int = 1024, draw_frames: int = 0,
                 cache_bytes: int = 0,
                 exclude_fold: Optional[Tuple[int, int]] = None,
                 records: Optional[tf.data.Dataset] = None) -> tf.data.Dataset:
    """Batches of ({frames, num_frames}, labels_multi_hot).

    Training: shuffled, repeats forever, cached when it fits, and the frames
    drawn: `draw_frames=0` resamples all 300 slots after the transform graph
    (a model that reads every slot); `draw_frames=k` draws the k frames of
    a model's `FrameSampler` before it (`sampling.draw_raw_frames`; the
    model must then `layers.read_drawn_frames`). Eval: one pass, in order,
    every frame covered.
    """
    dataset = raw_dataset(file_pattern, batch_size, shuffle=training, seed=seed,
                          shuffle_buffer=shuffle_buffer, num_epochs=None if training else 1,
                          cache_bytes=cache_bytes if training else 0,
                          exclude_fold=exclude_fold, records=records)
    transform_layer = tf_transform_output.transform_features_layer()

    @tf.autograph.experimental.do_not_convert   # plain tensor code: nothing to convert
    def to_model_inputs(raw):
        transformed, inputs = transform_drawn(transform_layer, raw,
                                              draw_frames if training else None)
        return inputs, transformed[features.LABELS_MULTI_HOT]

    return distribute_by_data(dataset.map(to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE)
                              .prefetch(tf.data.AUTOTUNE))


def transform_drawn(transform_layer, raw: dict, draw_frames: Optional[int]):
    """(transformed features, model inputs) of a raw batch, frames drawn for training.

    `draw_frames`: None, eval (every frame covered, in order); 0, all 300
    slots resampled after the transform; k, k frames drawn before it.
    """
    if draw_frames:
        raw = sampling.draw_raw_frames(raw, draw_frames)
    transformed = transform_layer(raw)
    inputs = model_inputs(transformed)
    if draw_frames == 0:
        inputs[features.FRAMES] = sampling.sample_with_replacement(
            inputs[features.FRAMES], inputs[features.NUM_FRAMES])
    return transformed, inputs


def distribute_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The options every input of a model gets: split by batch, no autotuning thread.

    Several workers (MultiWorkerMirroredStrategy) split the batches, not the
    files: ExampleGen writes as few as one file per split, and FILE sharding
    fails with fewer files than workers.

    tf.data's autotuning runs a model thread beside each iterator that
    re-optimizes at growing intervals (up to a minute); deleting the
    iterator, which Keras does at the end of every `fit`, waited for that
    thread's current interval to run out: 5-29 s after each training on 2
    cores, measured with py-spy in `RootDataset::Iterator::~Iterator`
    (0.04-0.1 s without it). Without autotuning, `AUTOTUNE` parallel maps
    run one call per core and prefetch buffers size themselves (tf.data's
    legacy rule), which fed the same steps at the same speed here.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    options.autotune.enabled = False
    return dataset.with_options(options)
