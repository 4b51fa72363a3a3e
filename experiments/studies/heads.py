"""Head study: how the heads are wired and decoded, under noise and imbalance."""

STUDY = {
    "description": "Test metrics per head architecture and decoding on the "
                   "synthetic task with 20% label noise in training and a 10:1 "
                   "fine-class imbalance. The joint head is trained with "
                   "multilabel CE; consistent decoding picks the best valid "
                   "(coarse, fine) pair.",
    "base": {"synthetic_label_noise": 0.2, "synthetic_imbalance": 10.0,
             "epochs": 10},
    "grid": [
        {"head": "independent", "loss": "ce", "decode": "argmax"},
        {"head": "independent", "loss": "ce", "decode": "consistent"},
        {"head": "conditioned", "loss": "ce", "decode": "argmax"},
        {"head": "conditioned", "loss": "ce", "decode": "consistent"},
        {"head": "joint", "loss": "multilabel_ce", "decode": "argmax"},
        {"head": "joint", "loss": "multilabel_ce", "decode": "consistent"},
    ],
    "seeds": [0, 1, 2],
}
