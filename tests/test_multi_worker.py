"""Two worker processes on 127.0.0.1 train one model with
MultiWorkerMirroredStrategy and end with the same weights as one process."""

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from research import config
from research import training
from tests import helpers

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_FLAGS = {"synthetic_train_size": 200, "synthetic_feature_dim": 8, "width": 16,
          "dropout": 0.0, "optimizer": "sgd", "learning_rate": 0.1,
          "epochs": 2, "batch_size": 32}  # 7 steps, the last one uneven


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for sock in sockets:
    sock.bind(("127.0.0.1", 0))
  ports = [sock.getsockname()[1] for sock in sockets]
  for sock in sockets:
    sock.close()
  return ports


def _start_worker(index, ports, model_dir, log_path):
  tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
               "task": {"type": "worker", "index": index}}
  env = dict(os.environ, TF_CONFIG=json.dumps(tf_config),
             TF_CPP_MIN_LOG_LEVEL="1")
  command = [sys.executable, "-m", "research.train", "--strategy=multi_worker",
             f"--model_dir={model_dir}", "--verbose=0"]
  command += [f"--{name}={value}" for name, value in _FLAGS.items()]
  log = open(log_path, "w")  # pylint: disable=consider-using-with
  return subprocess.Popen(command, cwd=_ROOT, env=env, stdout=log,
                          stderr=subprocess.STDOUT)


def _run_two_workers(model_dir, timeout=300):
  """Runs both workers to the end; returns their logs; leaves none behind."""
  ports = _free_ports(2)
  logs = [os.path.join(model_dir + "-logs", f"worker_{i}.log") for i in (0, 1)]
  os.makedirs(os.path.dirname(logs[0]))
  workers = [_start_worker(i, ports, model_dir, logs[i]) for i in (0, 1)]
  try:
    codes = [worker.wait(timeout=timeout) for worker in workers]
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
        worker.wait()
  texts = []
  for path in logs:
    with open(path) as handle:
      texts.append(handle.read())
  assert codes == [0, 0], "\n".join(text[-3000:] for text in texts)
  return texts


@pytest.mark.slow
def test_two_workers_end_with_the_same_weights_as_one_process(tmp_path):
  model_dir = str(tmp_path / "two_workers")
  logs = _run_two_workers(model_dir)
  last = os.path.join("checkpoints", "last.weights.h5")
  chief = helpers.weight_file_arrays(os.path.join(model_dir, last))
  worker = helpers.weight_file_arrays(
      os.path.join(model_dir, "workers", "worker_1", last))
  with open(os.path.join(model_dir, "results.json")) as handle:
    results = json.load(handle)
  assert results["num_replicas"] == 2

  cfg = config.Config().replace(
      data={k: _FLAGS[k] for k in ("synthetic_train_size",
                                   "synthetic_feature_dim")},
      model={"width": _FLAGS["width"], "dropout": 0.0},
      optim={k: _FLAGS[k] for k in ("optimizer", "learning_rate")},
      train={k: _FLAGS[k] for k in ("epochs", "batch_size")},
      runtime={"verbose": 0})
  single_dir = str(tmp_path / "one_process")
  single = training.run(cfg, single_dir, strategy=tf.distribute.get_strategy())
  single_weights = helpers.weight_file_arrays(os.path.join(single_dir, last))
  workers_diff = helpers.max_abs_weight_diff(chief, worker)
  single_diff = helpers.max_abs_weight_diff(chief, single_weights)
  metric_diff = max(abs(results["test"][k] - v)
                    for k, v in single["test"].items())
  print(f"multi-worker: max abs diff worker 0 vs 1 {workers_diff:.2e}; vs one "
        f"process: weights {single_diff:.2e}, test metrics {metric_diff:.2e}")
  assert workers_diff == 0.0
  assert single_diff < 1e-5  # sharded, not duplicated, data
  assert metric_diff < 1e-5
  for log in logs:
    assert "AutoShardPolicy" not in log and "FILE-based" not in log, log
