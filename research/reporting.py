"""Evaluation records on disk: eval_<split>.json, confusion PNGs, per-class markdown.

Plots use matplotlib's Agg backend (no display needed). Confusion matrices are
normalised by row, so each row shows where the examples of one true class went.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from research import summaries  # pylint: disable=g-import-not-at-top
from research.labels import HEADS  # pylint: disable=g-import-not-at-top


def row_normalised(confusion):
  """Each row divided by its sum; rows of absent classes stay zero."""
  confusion = np.asarray(confusion, np.float64)
  totals = confusion.sum(axis=1, keepdims=True)
  return np.divide(confusion, totals, out=np.zeros_like(confusion),
                   where=totals > 0)


def plot_confusion(confusion, names, path, title):
  """Writes a row-normalised confusion matrix with class names on both axes."""
  size = max(4.0, 0.32 * len(names) + 2.0)
  figure, axes = plt.subplots(figsize=(size, size))
  image = axes.imshow(row_normalised(confusion), cmap="Blues", vmin=0, vmax=1)
  ticks = np.arange(len(names))
  axes.set_xticks(ticks, labels=names, rotation=90)
  axes.set_yticks(ticks, labels=names)
  axes.set_xlabel("predicted")
  axes.set_ylabel("true")
  axes.set_title(title)
  figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def per_class_markdown(report, title):
  """Markdown: headline metrics, then one table per head of per-class scores."""
  lines = [f"# {title}", "", "| head | metric | value |", "|---|---|---|"]
  for head in HEADS:
    for metric, value in report[head].items():
      if isinstance(value, float):
        lines.append(f"| {head} | {metric} | {value:.4f} |")
  for metric, value in report["joint"].items():
    lines.append(f"| joint | {metric} | {value:.4f} |")
  for head in HEADS:
    lines += ["", f"## {head}", "",
              "| class | precision | recall | f1 | support |",
              "|---|---|---|---|---|"]
    for name, scores in report[head]["per_class"].items():
      lines.append(f"| {name} | {scores['precision']:.4f} | "
                   f"{scores['recall']:.4f} | {scores['f1']:.4f} | "
                   f"{scores['support']} |")
  return "\n".join(lines) + "\n"


def write_report(folder, split, report, class_names, title):
  """Writes eval_<split>.json, confusion_<head>_<split>.png, report_<split>.md.

  Args:
    folder: output folder (created if missing).
    split: split name, part of every file name.
    report: evaluation.split_report output (may carry a "members" entry).
    class_names: {"coarse": names, "fine": names}.
    title: heading of the markdown report and the plots.

  Returns:
    The paths written, by kind.
  """
  os.makedirs(folder, exist_ok=True)
  paths = {"json": os.path.join(folder, f"eval_{split}.json"),
           "markdown": os.path.join(folder, f"report_{split}.md")}
  # `scored` says which weights on which split: a rerun with
  # --checkpoint=last writes the same file names.
  summaries.write_json(paths["json"], {**report, "scored": title})
  summaries.write_text(paths["markdown"], per_class_markdown(report, title))
  for head in HEADS:
    paths[head] = os.path.join(folder, f"confusion_{head}_{split}.png")
    plot_confusion(report[head]["confusion"], class_names[head], paths[head],
                   f"{title}: {head}")
  return paths


def write_logits(folder, split, logits, labels):
  """Saves logits_<split>.npz (per-head logits and labels) for later analysis."""
  path = os.path.join(folder, f"logits_{split}.npz")
  np.savez(path, **{f"{head}_logits": logits[head] for head in HEADS},
           **{f"{head}_labels": labels[head] for head in HEADS})
  return path
