"""Benchmark: where the training time goes, as ratios of steps per second.

    python -m experiments.bench [--rounds 60] [--seconds 0.1] [--groups 5]

From one process, builds every case of `comparisons()` (bench_cases.Case),
then times them in many short interleaved rounds (about `--seconds` of steps
per case; the order rotates each round), so that load from other processes
hits all cases alike and two cases of a comparison are never timed far apart.
Rounds are pooled into `--groups` consecutive groups; a case's rate in a group
is its steps over its time there, and a comparison's ratio is the median over
groups of rate(A) / rate(B) (rate(B) / rate(A) for a ratio of step times,
whose label says so), with the range. Also measures the peak RSS of a
default `research.train` run, trained first in this process. Prints the table
and writes it, with the machine description, to
`experiments/results/bench/bench.md`.
"""

import argparse
import collections
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
STEPS_PER_SECOND, STEP_TIME = "steps/s", "step time"

# One table row: `ratio_of` says whether the ratio is case A's steps/s over
# case B's, or A's step time over B's (= B's steps/s over A's). Either way
# the A and B columns show case A's and case B's steps/s.
Comparison = collections.namedtuple(
    "Comparison", ["label", "backbone", "case_a", "case_b", "target",
                   "ratio_of"], defaults=[STEPS_PER_SECOND])


def _backbone_rows(backbone):
  ours, functional = Case(backbone), Case(backbone, functional=True)
  xla = Case(backbone, jit_compile=True)
  return [
      Comparison("train_step / functional", backbone, ours, functional,
                 ">= 0.97"),
      Comparison("train_step / functional, both XLA", backbone, xla,
                 Case(backbone, functional=True, jit_compile=True), ">= 1.0"),
      Comparison("XLA on / off", backbone, xla, ours, ""),
      Comparison("mixed_bfloat16 / float32", backbone,
                 Case(backbone, mixed_precision="mixed_bfloat16"), ours, ""),
  ]


def _ghm_rows():
  """GHM step time over CE's, once per GHM form: A = GHM, B = CE."""
  return [Comparison(f"step time ghm ({form}) / ce (= B / A steps/s)", "mlp",
                     Case(loss="ghm", loss_options=(("ghm_form", form),)),
                     Case(), "<= 1.05", ratio_of=STEP_TIME)
          for form in losses.ghm.FORMS]


def comparisons(backbone_names):
  """Comparison rows (label, backbone, case A, case B, target, ratio_of)."""
  rows = []
  for backbone in backbone_names:
    rows += _backbone_rows(backbone)
  rows.append(Comparison("steps_per_execution 8 / 1", "mlp",
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
  """Table rows: each case's rate over all rounds (A, B), and the median
  [min, max] over round groups of the ratio of the two cases' group rates
  (A / B, or B / A for a ratio of step times).

  Args:
    rows: Comparisons, or tuples of their fields.
    rates: {case: [steps/s per round]}.
    groups: number of groups of consecutive rounds.
  """
  table = []
  for row in (Comparison(*fields) for fields in rows):
    rate_a, rate_b = (group_rates(rates[row.case_a], groups),
                      group_rates(rates[row.case_b], groups))
    if row.ratio_of == STEP_TIME:
      per_group = [b / a for a, b in zip(rate_a, rate_b)]
    else:
      per_group = [a / b for a, b in zip(rate_a, rate_b)]
    overall = {case: group_rates(rates[case], 1)[0]
               for case in (row.case_a, row.case_b)}
    table.append((
        row.label, f"{row.backbone} w{bench_cases.width(row.backbone)}",
        f"{overall[row.case_a]:.1f}", f"{overall[row.case_b]:.1f}",
        f"{statistics.median(per_group):.3f} "
        f"[{min(per_group):.2f}, {max(per_group):.2f}]", row.target))
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
      case for row in rows for case in (row.case_a, row.case_b)))
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
