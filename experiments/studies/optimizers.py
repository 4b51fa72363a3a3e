"""Optimizer x learning rate on the synthetic default: small enough to run today."""

STUDY = {
    "description": "Which optimizer and peak learning rate train the two heads "
                   "best on the synthetic default task (cosine schedule).",
    "base": {"epochs": 5},
    "grid": {"optimizer": ["adam", "adamw", "sgd"],
             "learning_rate": [0.001, 0.01]},
    "seeds": [0, 1, 2],
}
