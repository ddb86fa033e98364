import dataclasses
import math
import os
import subprocess
import sys

import pytest

from foldedcnn_jax import plots
from foldedcnn_jax.bench import records
from foldedcnn_jax.errors import UserInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic_records():
  rows = []
  for task in ("v1", "n2"):
    for batch in (64, 1024):
      for fold in (1, 2, 4):
        rows.append(records.BenchRecord(
            task=task, model="folded", framework="jax", fold=fold, width_rounding=1,
            batch_images=batch, folded_inputs=batch // fold, dtype="float16",
            dtype_choice="auto", input_dtype="uint8", includes_transfer=False, micro_batch=0,
            platform="gpu",
            device_kind="Tesla V100-SXM2-16GB", device_detail="Tesla V100-SXM2-16GB",
            jax_version="0", framework_version="0", images_per_second_median=1000.0 * fold,
            flops_per_second=1e12 * fold, arithmetic_intensity_model=20.0 * fold,
            peak_flops_per_second=125e12, peak_bytes_per_second=900e9,
            peak_source="table: NVIDIA V100 SXM2"))
    rows.append(records.BenchRecord(
        **{**rows[-1].__dict__, "model": "compound", "fold": 1, "images_per_second_median": 500.0}))
  records.add_ratios(rows)
  return rows


def test_plot_all_writes_every_figure(tmp_path):
  paths = plots.plot_all(synthetic_records(), str(tmp_path / "figures"))
  assert [os.path.basename(p) for p in paths] == ["figure7.png", "figure8.png", "roofline.png"]
  for path in paths:
    with open(path, "rb") as file:
      assert file.read(8) == PNG_SIGNATURE
    assert os.path.getsize(path) > 10_000
  assert sorted(os.listdir(tmp_path / "figures")) == ["figure7.png", "figure8.png", "roofline.png"]


def test_peaks_come_from_the_rows_unless_overridden():
  rows = synthetic_records()
  recorded = plots.peaks_of(rows)
  assert recorded.ridge_point == pytest.approx(125e12 / 900e9)
  assert recorded.source == "table: NVIDIA V100 SXM2"
  given = plots.peaks_of(rows, peak_tflops=10, peak_bandwidth_gbs=100)
  assert (given.flops_per_second, given.bytes_per_second, given.source) == (1e13, 1e11, "given")
  unknown = plots.peaks_of([records.BenchRecord(**{**rows[0].__dict__,
                                                   "peak_flops_per_second": math.nan})])
  assert not unknown.known


def test_selection_and_batch_errors(tmp_path):
  rows = synthetic_records()
  assert plots.default_batch(rows) == 1024
  assert plots.default_batch([r for r in rows if r.batch_images == 64]) == 64
  with pytest.raises(UserInputError, match="no successful torch rows"):
    plots.plot_all(rows, str(tmp_path), framework="torch")
  with pytest.raises(UserInputError, match="no jax rows with micro_batch 64; present: 0"):
    plots.plot_all(rows, str(tmp_path), micro_batch=64)
  with pytest.raises(UserInputError, match="no jax rows with compiler_options 't='; present: ''"):
    plots.plot_all(rows, str(tmp_path), compiler_options="t=")
  faster = [dataclasses.replace(r, compiler_options="t=",
                                images_per_second_median=r.images_per_second_median * (1 + r.fold))
            for r in rows]
  assert plots.select(rows + faster) == plots.select(rows)
  fastest = plots.select(rows + faster, fastest=True)
  assert {r.compiler_options for r in fastest} == {"t="} and len(fastest) == len(plots.select(rows))
  with pytest.raises(UserInputError, match="no rows at batch 128; batches present: 64, 1024"):
    plots.plot_all(rows, str(tmp_path), batch=128)


def test_plot_cli(tmp_path):
  csv_path = tmp_path / "bench.csv"
  records.write_csv(synthetic_records(), str(csv_path))
  done = subprocess.run([sys.executable, "-m", "experiments.plot", str(csv_path)], cwd=REPO,
                        capture_output=True, text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  assert os.path.isfile(tmp_path / "roofline.png") and "wrote" in done.stdout
  missing = subprocess.run([sys.executable, "-m", "experiments.plot", str(tmp_path / "no.csv")],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
  assert missing.returncode == 2
  assert missing.stderr.strip() == f"error: no benchmark CSV at {tmp_path / 'no.csv'}"


def test_default_path_rows_are_plotted_with_the_peers(tmp_path):
  tuned = [dataclasses.replace(row, variant_choice="tuned", micro_batch=64 * (row.fold == 4))
           for row in synthetic_records() if row.model == "folded"]
  swept = [dataclasses.replace(row, variant_choice="explicit", compiler_options="t=", micro_batch=0)
           for row in tuned]
  peer = [dataclasses.replace(row, framework="torch_channels_last", variant_choice="")
          for row in tuned]
  assert {r.variant_choice for r in plots.select(tuned + swept + peer)} == {"tuned"}
  assert len(plots.select(tuned + swept, compiler_options="t=")) == len(swept)
  paths = plots.plot_all(tuned + swept + peer, str(tmp_path))
  assert os.path.basename(paths[-1]) == "peers.png"
  with open(paths[-1], "rb") as file:
    assert file.read(8) == PNG_SIGNATURE
