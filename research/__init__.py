"""twohead: two-label (coarse + fine) classification research code on TF 2 / Keras 3."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) buries the
# per-head results on CPU machines; errors still print. Set it to 0 to see all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
