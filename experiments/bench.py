"""Benchmark: where the training time goes, as ratios of steps per second.

    python -m experiments.bench [--rounds 60] [--seconds 0.1] [--groups 5]

From one process, builds every case of `comparisons()` (bench_cases.Case),
then times them in many short interleaved rounds (about `--seconds` of steps
per case; the order rotates each round), so that load from other processes
hits all cases alike and two cases of a comparison are never timed far apart.
Rounds are pooled into `--groups` consecutive groups; a case's rate in a group
is its steps over its time there, and a comparison's ratio is the median over
groups of rate(A) / rate(B), with the range. Also measures the peak RSS of a
default `research.train` run in a child process. Prints the table and writes
it, with the machine description, to `experiments/results/bench/bench.md`.
"""

import argparse
import os
import statistics
import sys

from experiments import bench_cases
from experiments import bench_pipeline
from experiments import bench_report
from research import backbones
from research import losses
from research import summaries

Case = bench_cases.Case


def _backbone_rows(backbone):
  ours, functional = Case(backbone), Case(backbone, functional=True)
  xla = Case(backbone, jit_compile=True)
  return [
      ("train_step / functional", backbone, ours, functional, ">= 0.97"),
      ("train_step / functional, both XLA", backbone, xla,
       Case(backbone, functional=True, jit_compile=True), ">= 1.0"),
      ("XLA on / off", backbone, xla, ours, ""),
      ("mixed_bfloat16 / float32", backbone,
       Case(backbone, mixed_precision="mixed_bfloat16"), ours, ""),
  ]


def _ghm_rows():
  """GHM step time over CE's, once per GHM form."""
  return [(f"step time ghm ({form}) / ce", "mlp", Case(),
           Case(loss="ghm", loss_options=(("ghm_form", form),)), "<= 1.05")
          for form in losses.ghm.FORMS]


def comparisons(backbone_names):
  """(label, backbone, case A, case B, target) rows; ratio = A / B."""
  rows = []
  for backbone in backbone_names:
    rows += _backbone_rows(backbone)
  rows.append(("steps_per_execution 8 / 1", "mlp",
               Case(steps_per_execution=8), Case(), ""))
  rows += _ghm_rows()
  return rows


def time_rounds(cases, rounds, seconds, log):
  """Builds and warms every case, then returns {case: [rate per round]}."""
  timed, steps = {}, {}
  for case in cases:
    log(f"building {case}")
    timed[case] = bench_cases.Timed(case)
    steps[case] = timed[case].warm_up(seconds)
  rates = {case: [] for case in cases}
  for round_index in range(rounds):
    shift = round_index % len(cases)
    order = cases[shift:] + cases[:shift]
    if round_index % 2:
      order.reverse()
    for case in order:
      rates[case].append(timed[case].run(steps[case]))
    log(f"round {round_index + 1}/{rounds} done")
  return rates


def group_rates(rates, groups):
  """Steps/s of each of `groups` runs of consecutive rounds: the harmonic
  mean of the round rates, since every round runs the same steps."""
  bounds = [round(i * len(rates) / groups) for i in range(groups + 1)]
  chunks = [rates[start:end] for start, end in zip(bounds, bounds[1:])]
  return [len(chunk) / sum(1 / rate for rate in chunk)
          for chunk in chunks if chunk]


def ratio_rows(rows, rates, groups):
  """Table rows: each case's rate over all rounds, and the median [min, max]
  over round groups of the ratio of the two cases' group rates."""
  table = []
  for label, backbone, case_a, case_b, target in rows:
    per_group = [a / b for a, b in zip(group_rates(rates[case_a], groups),
                                       group_rates(rates[case_b], groups))]
    overall = {case: group_rates(rates[case], 1)[0]
               for case in (case_a, case_b)}
    table.append((
        label, f"{backbone} w{bench_cases.width(backbone)}",
        f"{overall[case_a]:.1f}", f"{overall[case_b]:.1f}",
        f"{statistics.median(per_group):.3f} "
        f"[{min(per_group):.2f}, {max(per_group):.2f}]", target))
  return table


def _parse(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=60,
                      help="interleaved timing rounds")
  parser.add_argument("--seconds", type=float, default=0.1,
                      help="target seconds per case per round (at least one "
                      "step)")
  parser.add_argument("--groups", type=int, default=5,
                      help="groups of consecutive rounds; the ratio's median "
                      "and range are over groups")
  parser.add_argument("--backbones", default="mlp,cnn,resnet18",
                      help="backbones to compare (missing ones are skipped)")
  parser.add_argument("--skip_rss", action="store_true",
                      help="do not run the default training for its peak RSS")
  parser.add_argument("--note", default="",
                      help="sentence added to the report (e.g. machine shared)")
  parser.add_argument("--out", default=os.path.join(
      "experiments", "results", "bench", "bench.md"))
  parser.add_argument("--readme", default="README.md",
                      help="README whose bench block gets the table ('' = none)")
  return parser.parse_args(argv)


def _log(message):
  print(message, file=sys.stderr, flush=True)


def _update_readme(path, table, caption):
  with open(path, encoding="utf-8") as handle:
    readme = handle.read()
  summaries.write_text(path, bench_report.with_readme_block(readme, table,
                                                          caption))


def main(argv):
  args = _parse(argv)
  names = [n for n in args.backbones.split(",") if n in backbones.REGISTRY]
  rows = comparisons(names)
  cases = list(dict.fromkeys(
      case for row in rows for case in row[2:4]))
  load_before = os.getloadavg()
  default_rss_mb = None if args.skip_rss else (
      bench_report.default_run_peak_rss_mb())
  rates = time_rounds(cases, args.rounds, args.seconds, _log)
  table = ratio_rows(rows, rates, args.groups)
  table.append(bench_pipeline.row())
  memory = bench_report.memory_lines(default_rss_mb)
  report = bench_report.markdown(
      table, memory, rounds=args.rounds, groups=args.groups,
      load=(load_before, os.getloadavg()),
      skipped=[n for n in args.backbones.split(",") if n not in names],
      note=args.note)
  print(report)
  summaries.write_text(args.out, report)
  if args.readme:
    _update_readme(args.readme, table,
                   bench_report.readme_caption(args.out, args.note))


if __name__ == "__main__":
  main(sys.argv[1:])
