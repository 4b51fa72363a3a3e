"""Benchmark: where the training time goes, as ratios of steps per second.

    python -m experiments.bench [--rounds 60] [--seconds 0.1] [--groups 5]
                                [--builds 2]

From one process, builds every case of `comparisons()` (bench_cases.Case)
`--builds` times, then times them in many short rounds. A round visits the
comparisons in a rotating order and times each one's two cases alternately,
build by build, about `--seconds` of steps each, so that load from other
processes and drift in the machine's speed hit both sides of a ratio alike.
Rounds are pooled into `--groups` consecutive groups; a case's rate in a
group is its steps over its time there, and a comparison's ratio is the
median over groups of rate(A) / rate(B) (rate(B) / rate(A) for a ratio of
step times, whose label says so), with the range. Also measures the peak RSS
of a default `research.train` run, trained first in this process. Prints the
table and writes it, with the machine description, to
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


def paired_rates(builds_a, builds_b, steps_a, steps_b, b_first=False):
  """Steps/s of case A and of case B over all builds of each.

  The two cases alternate, A B A B ... (B A B A ... when `b_first`), build
  by build, each timing `steps // len(builds)` steps. One untimed call
  precedes each timing: the first step after another model ran refills the
  caches, which a training run never pays.
  """
  sides = [(builds_a, steps_a, []), (builds_b, steps_b, [])]
  for build_index in range(len(builds_a)):
    for builds, steps, rates in sides[::-1] if b_first else sides:
      builds[build_index].run(1)
      rates.append(builds[build_index].run(max(1, steps // len(builds))))
  return tuple(group_rates(rates, 1)[0] for _, _, rates in sides)


def build_cases(cases, count, seconds, log):
  """`count` builds of every case, {case: [Timed]}, and the steps of about
  `seconds` for each case.

  The cases are built in turn, in forward then reverse order and so on.
  How fast a model runs depends on when in the process it was built: on the
  mlp, building the cases in reverse order moved GHM (softmax) / CE from
  1.07 to 0.96 and train_step / functional from 1.06 to 1.00. Timing every
  case on builds from both ends cancels most of that.
  """
  builds, steps = {case: [] for case in cases}, {}
  for turn in range(count):
    for case in cases if turn % 2 == 0 else reversed(cases):
      log(f"building {case}")
      builds[case].append(bench_cases.Timed(case))
      steps[case] = builds[case][-1].warm_up(seconds)
  return builds, steps


def time_rounds(rows, rounds, seconds, builds_per_case, log):
  """Builds and warms every case, then returns, for each row, its two
  cases' steps/s in every round: [(rates of A, rates of B)].

  A round visits the rows in a rotating order and times each row's cases
  as one `paired_rates`, so load that comes and goes on a shared machine
  hits both sides of a ratio alike. A case shared by several rows is built
  once (`builds_per_case` times) and timed with each of them.
  """
  cases = list(dict.fromkeys(
      case for row in rows for case in (row.case_a, row.case_b)))
  builds, steps = build_cases(cases, builds_per_case, seconds, log)
  rates = [([], []) for _ in rows]
  for round_index in range(rounds):
    shift = round_index % len(rows)
    for index in [*range(shift, len(rows)), *range(shift)]:
      case_a, case_b = rows[index].case_a, rows[index].case_b
      rate_a, rate_b = paired_rates(builds[case_a], builds[case_b],
                                    steps[case_a], steps[case_b],
                                    b_first=round_index % 2 == 1)
      rates[index][0].append(rate_a)
      rates[index][1].append(rate_b)
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
  """Table rows: each case's rate over all of its row's rounds (A, B), and
  the median [min, max] over round groups of the ratio of the two cases'
  group rates (A / B, or B / A for a ratio of step times).

  Args:
    rows: Comparisons, or tuples of their fields.
    rates: per row, (A's steps/s per round, B's steps/s per round).
    groups: number of groups of consecutive rounds.
  """
  table = []
  for row, (rounds_a, rounds_b) in zip(
      (Comparison(*fields) for fields in rows), rates):
    rate_a, rate_b = (group_rates(rounds_a, groups),
                      group_rates(rounds_b, groups))
    if row.ratio_of == STEP_TIME:
      per_group = [b / a for a, b in zip(rate_a, rate_b)]
    else:
      per_group = [a / b for a, b in zip(rate_a, rate_b)]
    overall_a, overall_b = (group_rates(rounds_a, 1)[0],
                            group_rates(rounds_b, 1)[0])
    table.append((
        row.label, f"{row.backbone} w{bench_cases.width(row.backbone)}",
        f"{overall_a:.1f}", f"{overall_b:.1f}",
        f"{statistics.median(per_group):.3f} "
        f"[{min(per_group):.3f}, {max(per_group):.3f}]", row.target))
  return table


def _positive_int(text):
  value = int(text)
  if value < 1:
    raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
  return value


def _parse(argv):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=_positive_int, default=60,
                      help="interleaved timing rounds")
  parser.add_argument("--seconds", type=float, default=0.1,
                      help="seconds of timed steps per case, comparison "
                      "and round, spread over the builds (at least one step "
                      "per build)")
  parser.add_argument("--groups", type=_positive_int, default=5,
                      help="groups of consecutive rounds; the ratio's median "
                      "and range are over groups")
  parser.add_argument("--builds", type=_positive_int, default=2,
                      help="builds of every case, in forward then reverse "
                      "order (a model's speed depends on when it was built)")
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
  load_before = os.getloadavg()
  default_rss_mb = None if args.skip_rss else (
      bench_report.default_run_peak_rss_mb())
  rates = time_rounds(rows, args.rounds, args.seconds, args.builds, _log)
  table = ratio_rows(rows, rates, args.groups)
  table.append(bench_pipeline.row())
  memory = bench_report.memory_lines(default_rss_mb)
  report = bench_report.markdown(
      table, memory, rounds=args.rounds, groups=args.groups,
      builds=args.builds,
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
