"""Step time of GHM-C relative to cross-entropy on the default model.

Not a test: prints GHM(sigmoid)/CE and GHM(softmax)/CE train-step time ratios
(target <= 1.05). Round-to-round noise on a shared CPU is large (KERAS3_NOTES:
+-35%), so the three losses alternate in short blocks within each round,
each round gives one ratio per form, and the median over rounds is reported,
with the ratio of the fastest blocks (the least disturbed ones) beside it.

  python -m experiments.bench_ghm [--rounds=7] [--steps=400] [--block=20]
"""

import statistics
import sys
import time

from absl import app
from absl import flags
import keras

from research import config
from research import model as model_lib
from research import optim
from research.data import pipeline
from research.data import registry as data_registry

_ROUNDS = flags.DEFINE_integer("rounds", 7, "Interleaved measurement rounds.")
_STEPS = flags.DEFINE_integer("steps", 400, "Train steps per loss per round.")
_BLOCK = flags.DEFINE_integer("block", 20, "Consecutive steps of one loss "
                              "before switching to the next.")

VARIANTS = {
    "ce": config.LossConfig(loss="ce"),
    "ghm_sigmoid": config.LossConfig(loss="ghm", ghm_form="sigmoid"),
    "ghm_softmax": config.LossConfig(loss="ghm", ghm_form="softmax"),
}


def _trainer(cfg, spec, loss_cfg):
  """(train_function, iterator) of a compiled default model with `loss_cfg`."""
  keras.utils.set_random_seed(cfg.train.seed)
  model = model_lib.build(cfg.model, loss_cfg, spec)
  model.compile(optimizer=optim.build(cfg.optim, epochs=1,
                                      steps_per_epoch=10**6))
  model.optimizer.build(model.trainable_variables)
  dataset = pipeline.batched(spec.splits["train"], cfg.train.batch_size,
                             training=True, seed=cfg.train.seed).repeat()
  model.make_train_function()
  return model.train_function, iter(dataset)


def _seconds(train_function, iterator, steps):
  start = time.perf_counter()
  for _ in range(steps):
    logs = train_function(iterator)
  float(logs["loss"])  # wait for the last step
  return time.perf_counter() - start


def _round(trainers, steps, block, fastest):
  """Seconds per loss over `steps` steps, run in interleaved blocks.

  Also lowers `fastest[name]` to the quickest block seen: on a shared
  machine the quickest block is the least disturbed one.
  """
  seconds = dict.fromkeys(trainers, 0.0)
  names = list(trainers)
  for cycle in range(steps // block):
    shift = cycle % len(names)  # rotate so no loss always runs first
    for name in names[shift:] + names[:shift]:
      elapsed = _seconds(*trainers[name], steps=block)
      seconds[name] += elapsed
      fastest[name] = min(fastest[name], elapsed)
  return seconds


def main(argv):
  del argv
  cfg = config.Config()
  spec = data_registry.load(cfg.data, cfg.train.seed)
  trainers = {name: _trainer(cfg, spec, loss_cfg)
              for name, loss_cfg in VARIANTS.items()}
  for trainer in trainers.values():
    _seconds(*trainer, steps=20)  # trace and warm up
  ratios = {name: [] for name in VARIANTS if name != "ce"}
  fastest = dict.fromkeys(trainers, float("inf"))
  for round_index in range(_ROUNDS.value):
    seconds = _round(trainers, _STEPS.value, _BLOCK.value, fastest)
    for name in ratios:
      ratios[name].append(seconds[name] / seconds["ce"])
    sys.stdout.write(f"round {round_index}: " + ", ".join(
        f"{name} {1e3 * s / _STEPS.value:.2f} ms/step"
        for name, s in seconds.items()) + "\n")
  for name, values in ratios.items():
    sys.stdout.write(
        f"{name}/ce step-time ratio: median {statistics.median(values):.3f} "
        f"(min {min(values):.3f}, max {max(values):.3f}, {len(values)} "
        f"rounds); fastest blocks {fastest[name] / fastest['ce']:.3f}\n")


if __name__ == "__main__":
  app.run(main)
