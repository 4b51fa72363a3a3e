"""twohead: two-label (coarse + fine) classification research code on TF 2 / Keras 3."""
