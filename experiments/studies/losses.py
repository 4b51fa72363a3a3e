"""Loss study: which head loss copes best with label noise and class imbalance."""

STUDY = {
    "description": "Test metrics per loss on the synthetic task with 20% label "
                   "noise in training and a 10:1 fine-class imbalance. The "
                   "multilabel CE row needs the joint head (one logit vector).",
    "base": {"synthetic_label_noise": 0.2, "synthetic_imbalance": 10.0,
             "epochs": 10},
    "grid": [
        {"loss": "ce"},
        {"loss": "label_smoothing"},
        {"loss": "focal"},
        {"loss": "ghm"},
        {"loss": "logit_adjusted"},
        {"loss": "multilabel_ce", "head": "joint"},
    ],
    "seeds": [0, 1, 2],
}
