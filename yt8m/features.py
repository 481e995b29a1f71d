"""The YouTube-8M frame-level format in one place.

Every other module takes feature names and sizes from here, the way the TFX
templates keep `features.py` as the single source of feature names.
Numbers are those of the 2018 frame-level release (see docs/TRAINING.md).
"""

# Context features of each tf.SequenceExample.
ID = 'id'
LABELS = 'labels'

# Feature lists: one bytes value per frame (one frame per second).
RGB = 'rgb'
AUDIO = 'audio'

RGB_SIZE = 1024          # bytes (uint8) per frame: PCA'd Inception embedding
AUDIO_SIZE = 128         # bytes (uint8) per frame: VGGish-style embedding
FRAME_SIZE = RGB_SIZE + AUDIO_SIZE
FEATURE_SIZES = {RGB: RGB_SIZE, AUDIO: AUDIO_SIZE}
MAX_FRAMES = 300         # videos are cut at 300 s; longer ones are truncated
NUM_CLASSES = 3862       # 2018 vocabulary

# Dequantization bounds of the official starter code (readers.py).
QUANTIZE_MAX = 2.0
QUANTIZE_MIN = -2.0

# Transformed features (outputs of the Transform graph).
FRAMES = 'frames'                    # float32 [batch, MAX_FRAMES, FRAME_SIZE]
NUM_FRAMES = 'num_frames'            # int64 [batch]: real frames before padding
LABELS_MULTI_HOT = 'labels_multi_hot'  # float32 [batch, NUM_CLASSES]
VIDEO_ID = 'video_id'                # string [batch]

# Model outputs (serving signature keys).
PROBABILITIES = 'probabilities'
TOP_K = 20
TOP_CLASSES = 'top_classes'
TOP_SCORES = 'top_scores'

# File name patterns of the release, per split.
SPLIT_PATTERNS = {
    'train': 'train*.tfrecord',
    'validate': 'validate*.tfrecord',
    'test': 'test*.tfrecord',
}
