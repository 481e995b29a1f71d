"""Synthetic YouTube-8M frame-level data with a known generative model.

Why: the real release is 1.5 TB and cannot be fetched here. The pipeline, its
tests and its benchmarks need data in the EXACT release format (see
`yt8m.features`), of any size, offline and byte-for-byte deterministic, on
which temporal aggregation matters as it does on the real data, and with a
known ceiling: the generative parameters are written beside the data (never
inside it) so `oracle_scores` can tell what GAP is attainable at all.

Modules: `params` (knobs, class prototypes, the packaged label sets),
`generator` (`sample_video`, `generate`), `encoding` (quantization and the
hand-written SequenceExample encoder), `oracle` (the params file and the
near-ceiling scores), `cli` (`python -m yt8m.synthetic`). Everything is
re-exported here: use `from yt8m import synthetic; synthetic.generate(...)`.

Generative story of one video (all its randomness comes from
`np.random.default_rng((seed, 1, index))`, so a video does not depend on
sharding or on the other videos):

1. Labels: a REAL 2018 label set drawn from the packaged table
   (`yt8m/data/label_sets_2018.npz`): class frequencies and co-occurrences
   are the real ones. `top_classes=K` keeps only the K most frequent classes
   (sets left empty are dropped) for small experiments.
2. Length: 1..300 frames; 35% exactly 300, 25% in [200, 300), 33% in
   [60, 200), 7% in [1, 60).
3. Scenes: the frames are cut into scenes of geometric length (mean
   `scene_mean`). Each scene has one owner: a label l (label l owns a
   fraction U(`coverage`) of the scenes, together at most
   `max_label_fraction`), a distractor (`distractor_fraction` of the scenes;
   a class NOT in the video's labels, taken from another real label set, so
   confusers have the real class frequencies) or nobody (background only).
4. Frames, as floats per dimension, for a frame t in scene s:
       x_t = b + o_s + strength_s * prototype[owner_s] + n_t
   b ~ N(0, background_std^2) is one vector per video: it dominates the mean
   over frames. o_s ~ N(0, scene_std^2) per scene, n_t ~ N(0, noise_std^2)
   per frame. A class prototype (from the seed) is +-1 on `rgb_support` of
   the 1024 rgb dims and `audio_support` of the 128 audio dims. A label's
   strength is `rgb_strength` (`audio_strength`, drawn independently) times
   U(`strength_range`); with probability `missing_evidence` a label has no
   evidence at all (label noise, as in the real release). A distractor has
   `distractor_scale` times that strength.
5. Quantization: the inverse of the starter code's dequantization
   (`dequantize`), clipped to [0, 255]. With the defaults about 92% of the
   dequantized values lie in [-1, 1] (std ~0.56), <0.1% are clipped.

Why mean pooling loses: a label's evidence covers ~10-30% of the frames, so
its share of the video mean (~0.15 * 0.8 per support dim) is small next to
the per-video background (std 0.45 per dim); a pooling that keeps frame-level
extremes (max pool, clusters, attention, RNNs) sees the full strength
against the frame noise only. Distractors and missing evidence keep even the
oracle below GAP 1. The oracle (`oracle_scores`, see `oracle`) knows the
prototypes and the label prior, not the latent scenes and strengths.

Measured figures are not kept here (they would go stale): GAP@20 of the
label prior, mean / max pooling and the oracle on 10 classes is printed by
tests/test_synthetic.py::test_learnable_by_aggregation_not_by_mean (run
with -s), and throughput (videos/s) and the oracle GAP on all classes by
benchmarks/bench_synthetic.py (benchmarks/results/synthetic.json).

Output: `<out>/train0000.tfrecord`.., `validate0000..`, `test0000..` (videos
0.. in that order; ids b'syn%08d' % index; the test split's `labels` is an
empty int64 list) and the params file `<out>/../<basename(out)>_oracle.npz`
(`load_oracle`). ~250 KB per video. Frame noise comes from a seeded bank of
noise rows (see `generator._noise_bank`) for speed.

CLI:
    python -m yt8m.synthetic --out DIR --videos N --seed S [--shards K]
        [--validate-fraction F] [--test-fraction F] [--params-out PATH]
        [--top-classes K] [--overwrite]
"""
from yt8m.synthetic.cli import main
from yt8m.synthetic.encoding import (dequantize, quantize, serialize,
                                     serialize_with_protobuf)
from yt8m.synthetic.generator import (LOG_EVERY, NOISE_BANK, SPLITS,
                                      generate, sample_video)
# Private, but tests/test_synthetic.py and benchmarks/bench_synthetic.py use
# them as `synthetic._num_frames` / `synthetic._noise_bank`.
from yt8m.synthetic.generator import _noise_bank, _num_frames  # noqa: F401
from yt8m.synthetic.oracle import (default_params_path, evidence,
                                   load_oracle, oracle_scores, save_oracle)
from yt8m.synthetic.params import (LABEL_TABLE, Knobs, Params, Video,
                                   label_table, make_params)

__all__ = [
    'LABEL_TABLE', 'LOG_EVERY', 'NOISE_BANK', 'SPLITS', 'Knobs', 'Params',
    'Video', 'default_params_path', 'dequantize', 'evidence', 'generate',
    'label_table', 'load_oracle', 'main', 'make_params', 'oracle_scores',
    'quantize', 'sample_video', 'save_oracle', 'serialize',
    'serialize_with_protobuf',
]
