"""One training run from a frozen Config: data, model, fit, test, records.

Entry points (`research.train`, the experiment runner, tests) call `run`; it
never reads flags.
"""

import os
import time

from absl import logging
import keras
import tensorflow as tf

from research import checkpointing
from research import guards
from research import loss_weights
from research import model as model_lib
from research import optim
from research import provenance
from research import runtime
from research import schedules
from research import strategies
from research import summaries
from research.data import classes_file
from research.data import hierarchy as hierarchy_lib
from research.data import images
from research.data import pipeline
from research.data import registry as data_registry
from research.losses import ghm_summaries


def _evaluation_sets(spec, batch_size):
  return {name: strategies.shard_by_data(
      pipeline.batched(spec.splits[name], batch_size, training=False))
          for name in ("validation", "test")}


def _callbacks(cfg, output_dir, state, steps_per_epoch, throughput, model):
  return [
      # These two first: their logs reach the writers.
      loss_weights.LossWeightSchedule(loss_weights.for_config(cfg.loss)),
      schedules.LearningRateLog(),
      guards.NonFiniteLossGuard(steps_per_epoch),
      # The writers before the checkpoint: once it claims an epoch, a resume
      # starts after it, so its points must already be written (a kill in
      # between replays the epoch, which writes its step again).
      summaries.EpochScalars(output_dir),
  ] + ghm_summaries.callbacks_for(model, output_dir) + [
      checkpointing.EpochCheckpoints(
          state, os.path.join(output_dir, "checkpoints"),
          cfg.runtime.best_metric),
      throughput,
  ]


def _record_task(spec, hierarchy, output_dir):
  """The class names and the coarse/fine relation, logged and saved with the
  run."""
  classes_file.write(spec, output_dir)
  logging.info(hierarchy.report())
  summaries.write_json(os.path.join(output_dir, "hierarchy.json"),
                       hierarchy.as_dict(spec.coarse_names, spec.fine_names))


def _claim(cfg, spec, hierarchy, output_dir, finished):
  """Refuses an `output_dir` that holds another run, or this run on data
  changed since it started, then records this run's config and task there; a finished run's records stay as written, even when
  its rerun changed runtime flags."""
  summaries.check_model_dir(output_dir, cfg.as_dict())
  if os.path.exists(os.path.join(output_dir, classes_file.NAME)):
    classes_file.check_unchanged(output_dir, spec)
  if not finished:
    summaries.claim_model_dir(output_dir, cfg.as_dict())
    _record_task(spec, hierarchy, output_dir)


def _check_against_data(cfg, spec):
  """(hierarchy, steps per epoch), once the config fits the data.

  Every check of the config against the data (the hierarchy file, the
  backbone, the augmentation, --steps_per_execution; the losses, heads and
  --best_metric follow when the model is built) runs before the folder is
  claimed, so a rerun with fixed flags may reuse it.
  """
  model_lib.check_fits(cfg.model, spec)
  images.check_augment(cfg.data, spec.input_kind)
  hierarchy = hierarchy_lib.for_task(spec, cfg.data.hierarchy_file)
  steps_per_epoch = pipeline.num_batches(len(spec.splits["train"]),
                                         cfg.train.batch_size)
  runtime.check_steps_per_execution(cfg.runtime.steps_per_execution,
                                    steps_per_epoch)
  return hierarchy, steps_per_epoch


def _build(cfg, spec, hierarchy_mask, steps_per_epoch, strategy):
  """The compiled model, its optimizer built; call inside strategy.scope()."""
  with runtime.precision_policy(cfg.runtime.mixed_precision):
    model = model_lib.build(cfg.model, cfg.loss, spec, hierarchy_mask)
  optimizer = optim.build(cfg.optim, cfg.train.epochs, steps_per_epoch)
  model.compile(optimizer=optimizer,
                **runtime.compile_options(cfg.runtime, strategy))
  model.optimizer.build(model.trainable_variables)  # slots exist to restore
  return model


def _logged_names(model):
  """The epoch log keys the model writes: its metrics, and `val_` + each."""
  names = list(model.two_head_metrics.result_names)
  return names + [f"val_{name}" for name in names]


def _restore(cfg, model, output_dir, started):
  """(training state, finished epochs); call inside strategy.scope()."""
  state = checkpointing.TrainingState(
      model, os.path.join(output_dir, "checkpoints"),
      keep=cfg.runtime.keep_checkpoints, best_mode=cfg.runtime.best_mode,
      started=started)
  return state, state.restore()


def _fit(cfg, model, state, train_split, steps_per_epoch, validation,
         first_epoch, output_dir, throughput):
  """Trains from `first_epoch` to the last epoch, checkpointing each."""
  train = strategies.shard_by_data(pipeline.training_epochs(
      train_split, cfg.train.batch_size, cfg.train.seed, first_epoch,
      cfg.train.epochs))
  model.fit(train, validation_data=validation,
            epochs=cfg.train.epochs, initial_epoch=first_epoch,
            steps_per_epoch=steps_per_epoch, verbose=cfg.runtime.verbose,
            shuffle=False,  # the pipeline shuffles, keyed by the epoch
            callbacks=_callbacks(cfg, output_dir, state, steps_per_epoch,
                                 throughput, model))


def _evaluate(model, dataset):
  return {name: float(value) for name, value in model.evaluate(
      dataset, return_dict=True, verbose=0).items()}


def run(cfg, model_dir, strategy=None):
  """Trains and tests one configuration; writes its records to `model_dir`.

  Rerunning the same configuration in the same `model_dir` resumes from the
  last finished epoch and ends with the same results as an uninterrupted run;
  rerunning a finished run returns its recorded results and rewrites nothing.

  Args:
    cfg: config.Config.
    model_dir: output folder (created if missing).
    strategy: a tf.distribute strategy to use instead of building
      `cfg.runtime.strategy` (tests share one MirroredStrategy per process).

  Returns:
    The results dict also written to `model_dir/results.json` (by the chief).
  """
  start = time.perf_counter()
  # First TF op of the run: multi-worker collectives are set up at startup.
  if strategy is None:
    strategy = strategies.build(cfg.runtime.strategy, cfg.runtime.tpu)
  if cfg.runtime.deterministic:
    tf.config.experimental.enable_op_determinism()
  output_dir = strategies.output_dir(model_dir, strategy)
  keras.utils.set_random_seed(cfg.train.seed)
  spec = data_registry.load(cfg.data, cfg.train.seed)
  hierarchy, steps_per_epoch = _check_against_data(cfg, spec)
  train_split = spec.splits["train"]
  total_steps = cfg.train.epochs * steps_per_epoch
  results_path = os.path.join(output_dir, "results.json")
  finished = os.path.exists(results_path)
  with strategy.scope():
    model = _build(cfg, spec, hierarchy.mask, steps_per_epoch, strategy)
    checkpointing.check_monitored(cfg.runtime.best_metric,
                                  _logged_names(model))
    _claim(cfg, spec, hierarchy, output_dir, finished)
    state, first_epoch = _restore(cfg, model, output_dir, start)
  evaluation = _evaluation_sets(spec, cfg.train.batch_size)
  throughput = summaries.Throughput()
  if first_epoch < cfg.train.epochs:
    _fit(cfg, model, state, train_split, steps_per_epoch,
         evaluation["validation"], first_epoch, output_dir, throughput)
  results = {split: _evaluate(model, evaluation[split])
             for split in ("test", "validation")}
  # Evaluated anyway: under multi-worker every worker must join the
  # evaluation, and only the chief's folder holds results.json.
  if finished and first_epoch >= cfg.train.epochs:
    logging.warning("%s had finished: its records are kept as written",
                    model_dir)
    return summaries.read_json(results_path)
  results.update({
      "epochs": cfg.train.epochs,
      "resumed_from_epoch": first_epoch,
      "train_steps": total_steps,
      "steps_per_second": throughput.steps_per_second,
      "wall_seconds": state.wall_seconds(),
      "num_replicas": strategy.num_replicas_in_sync,
      "code_version": provenance.code_version(),
      "hierarchy": {"strict": hierarchy.strict,
                    "fine_under_several_coarse":
                        hierarchy.fine_under_several_coarse},
  })
  summaries.write_hparams(output_dir, summaries.ablation_axes(cfg.as_dict()),
                          results["test"], step=cfg.train.epochs)
  summaries.write_json(results_path, results)
  return results
