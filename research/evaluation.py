"""Per-head evaluation of trained runs, alone or as a probability-averaged ensemble.

Metrics are computed in numpy over the whole split at once, so macro-F1 and the
per-class scores are exact (not averages of batch values). Labels of -1 are
missing and left out of every metric of their head.
"""

import numpy as np
import tensorflow as tf

from research import config
from research import restore as restore_lib
from research.data import pipeline
from research.labels import HEADS


def predict_logits(model, dataset):
  """{"coarse": [n, num_coarse], "fine": [n, num_fine]} logits of a dataset."""
  inputs_only = dataset.map(lambda inputs, labels: inputs)
  logits = model.predict(inputs_only, verbose=0)
  return {head: np.asarray(logits[head], np.float64) for head in HEADS}


def softmax(logits):
  """Row-wise softmax of [n, classes] logits, computed stably."""
  shifted = logits - logits.max(axis=1, keepdims=True)
  exp = np.exp(shifted)
  return exp / exp.sum(axis=1, keepdims=True)


def decode(model, probabilities):
  """Predicted (coarse, fine) labels, each [n], with `model`'s own decoder.

  The model decodes with the decoder and hierarchy mask it was trained with
  (`--decode`, `--hierarchy_file` or the counted hierarchy), so evaluation,
  prediction and export agree with the metrics logged in training. Averaged
  (ensemble) probabilities go in as log-probabilities, which every decoder
  treats as logits.
  """
  # log(0) would turn a score into -inf. float64's tiny (log -708), not
  # float32's (log -87): pairs of probabilities below float32's would tie
  # where decoding the logits (export, training) tells them apart.
  tiny = np.finfo(np.float64).tiny
  log_probabilities = {head: tf.constant(np.log(np.maximum(p, tiny)),
                                         tf.float32)
                       for head, p in probabilities.items()}
  return {head: labels.numpy()
          for head, labels in model.decode(log_probabilities).items()}


def confusion_matrix(labels, predicted, num_classes):
  """[num_classes, num_classes] counts, rows = true class, cols = predicted."""
  valid = labels >= 0
  counts = np.zeros((num_classes, num_classes), np.int64)
  np.add.at(counts, (labels[valid], predicted[valid]), 1)
  return counts


def per_class_scores(confusion):
  """Precision, recall, F1 and support per class from a confusion matrix.

  A class never predicted has precision 0; one never present has recall 0.
  """
  true_positive = np.diag(confusion).astype(np.float64)
  predicted = confusion.sum(axis=0)
  support = confusion.sum(axis=1)
  precision = np.divide(true_positive, predicted,
                        out=np.zeros_like(true_positive), where=predicted > 0)
  recall = np.divide(true_positive, support,
                     out=np.zeros_like(true_positive), where=support > 0)
  total = precision + recall
  f1 = np.divide(2 * precision * recall, total,
                 out=np.zeros_like(total), where=total > 0)
  return precision, recall, f1, support


def head_report(labels, probabilities, predicted, names, top_k=3):
  """Metrics of one head.

  Macro-F1 averages the classes that occur in the labels or the predictions;
  a class absent from both has no defined F1 and is left out.
  """
  valid = labels >= 0
  confusion = confusion_matrix(labels, predicted, len(names))
  precision, recall, f1, support = per_class_scores(confusion)
  seen = (support > 0) | (confusion.sum(axis=0) > 0)
  report = {
      "accuracy": _mean(predicted[valid] == labels[valid]),
      "macro_f1": float(f1[seen].mean()) if seen.any() else float("nan"),
      "num_labelled": int(valid.sum()),
      "confusion": confusion.tolist(),
      "per_class": {
          name: {"precision": float(precision[i]), "recall": float(recall[i]),
                 "f1": float(f1[i]), "support": int(support[i])}
          for i, name in enumerate(names)},
  }
  if len(names) > top_k:
    scores = probabilities[valid]  # [n, classes]
    label_scores = scores[np.arange(len(scores)), labels[valid]]
    # As tf.math.in_top_k, which the training metric uses: classes tied with
    # the label's score do not push it out of the top k.
    report[f"top{top_k}_accuracy"] = _mean(
        (scores > label_scores[:, None]).sum(axis=1) < top_k)
  return report


def joint_report(labels, predicted, hierarchy_mask):
  """Exact match (both heads right) and hierarchy consistency of predictions.

  hierarchy_mask: [num_coarse, num_fine] 0/1 allowed pairs.
  """
  both = (labels["coarse"] >= 0) & (labels["fine"] >= 0)
  right = ((predicted["coarse"] == labels["coarse"]) &
           (predicted["fine"] == labels["fine"]))
  allowed = np.asarray(hierarchy_mask)[predicted["coarse"], predicted["fine"]]
  return {"exact_match": _mean(right[both]),
          "consistency": _mean(allowed > 0)}


def split_report(labels, probabilities, spec, model, top_k=3):
  """All metrics of a split: {"coarse", "fine", "joint", "num_examples"}.

  `model` supplies the decoder and hierarchy (see `decode`).
  """
  predicted = decode(model, probabilities)
  names = {"coarse": spec.coarse_names, "fine": spec.fine_names}
  report = {head: head_report(labels[head], probabilities[head],
                              predicted[head], names[head], top_k)
            for head in HEADS}
  report["joint"] = joint_report(labels, predicted,
                                 model.hierarchy_mask.numpy())
  report["num_examples"] = int(len(labels["fine"]))
  report["decoding"] = model.decoder
  return report


def evaluate_runs(model_dirs, split="test", checkpoint="best"):
  """Evaluates one run, or several as an ensemble that averages probabilities.

  Every member is scored on the first member's `split`, which must be its
  own `split` too (see restore.restore_members): a member's report is its
  own numbers on that split.

  Args:
    model_dirs: list of model_dir folders.
    split: "train", "validation" or "test".
    checkpoint: "best" or "last".

  Returns:
    (members, ensemble): members is a list of (Restored, logits, report);
    ensemble is the report of the averaged probabilities, or None for one run.
  """
  first = restore_lib.restore(model_dirs[0], checkpoint)
  spec = first.spec
  if split not in spec.splits:
    raise config.ConfigError(f"--split={split!r}: the {spec.name} task has "
                             f"splits {sorted(spec.splits)}")
  data = spec.splits[split]
  dataset = pipeline.batched(data, first.cfg.train.batch_size, training=False)
  labels = {"coarse": data.coarse, "fine": data.fine}
  runs = [first] + restore_lib.restore_members(first, model_dirs[1:], split,
                                               checkpoint)
  members, all_probabilities = [], []
  for run in runs:
    logits = predict_logits(run.model, dataset)
    probabilities = {head: softmax(logits[head]) for head in HEADS}
    all_probabilities.append(probabilities)
    report = split_report(labels, probabilities, spec, run.model)
    members.append((run, logits, report))
  if len(model_dirs) == 1:
    return members, None
  averaged = {head: np.mean([p[head] for p in all_probabilities], axis=0)
              for head in HEADS}
  return members, split_report(labels, averaged, spec, first.model)


def headline_metrics(report):
  """The scalar metrics of a report, by head: what an ensemble lists per member."""
  return {head: {name: value for name, value in report[head].items()
                 if isinstance(value, float)}
          for head in (*HEADS, "joint")}


def _mean(booleans):
  return float(np.mean(booleans)) if len(booleans) else float("nan")
