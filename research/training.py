"""One training run from a frozen Config: data, model, fit, test, records.

Entry points (`research.train`, the experiment runner, tests) call `run`; it
never reads flags.
"""

import os
import time

import keras

from research import model as model_lib
from research import optim
from research import runtime
from research import strategies
from research import summaries
from research.data import pipeline
from research.data import registry as data_registry


def _datasets(spec, batch_size, seed):
  return {name: pipeline.batched(split, batch_size, training=(name == "train"),
                                 seed=seed)
          for name, split in spec.splits.items()}


def _callbacks(model_dir, throughput):
  checkpoints = os.path.join(model_dir, "checkpoints")
  return [
      keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup")),
      keras.callbacks.ModelCheckpoint(
          os.path.join(checkpoints, "last.weights.h5"), save_weights_only=True),
      keras.callbacks.ModelCheckpoint(
          os.path.join(checkpoints, "best.weights.h5"), save_weights_only=True,
          monitor="val_fine/accuracy", mode="max", save_best_only=True),
      summaries.EpochScalars(model_dir),
      throughput,
  ]


def run(cfg, model_dir):
  """Trains and tests one configuration; writes its records to `model_dir`.

  Args:
    cfg: config.Config.
    model_dir: output folder (created if missing).

  Returns:
    The results dict also written to `model_dir/results.json`.
  """
  start = time.perf_counter()
  os.makedirs(model_dir, exist_ok=True)
  summaries.write_json(os.path.join(model_dir, "config.json"),
                       cfg.as_dict())
  strategy = strategies.build(cfg.runtime.strategy)
  keras.utils.set_random_seed(cfg.train.seed)
  spec = data_registry.load(cfg.data, cfg.train.seed)
  datasets = _datasets(spec, cfg.train.batch_size, cfg.train.seed)
  total_steps = cfg.train.epochs * int(datasets["train"].cardinality())
  with strategy.scope():
    with runtime.precision_policy(cfg.runtime.mixed_precision):
      model = model_lib.build(cfg.model, cfg.loss, spec)
    model.compile(optimizer=optim.build(cfg.optim, total_steps),
                  **runtime.compile_options(cfg.runtime, strategy))
  throughput = summaries.Throughput()
  history = model.fit(datasets["train"], validation_data=datasets["validation"],
                      epochs=cfg.train.epochs, verbose=cfg.runtime.verbose,
                      shuffle=False,  # the pipeline shuffles, seeded
                      callbacks=_callbacks(model_dir, throughput))
  test_metrics = model.evaluate(datasets["test"], return_dict=True, verbose=0)
  results = {
      "test": {name: float(value) for name, value in test_metrics.items()},
      "validation": {name[4:]: float(values[-1])
                     for name, values in history.history.items()
                     if name.startswith("val_")},
      "epochs": cfg.train.epochs,
      "train_steps": total_steps,
      "steps_per_second": throughput.steps_per_second,
      "wall_seconds": time.perf_counter() - start,
      "num_replicas": strategy.num_replicas_in_sync,
  }
  summaries.write_json(os.path.join(model_dir, "results.json"), results)
  return results
