"""The video filter: rows per frame, decisions equal to the predictor's, grouping, bad input."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import n2, tiny
from foldedcnn_jax import costs, filter_job, predict, video_filter
from foldedcnn_jax.bench import rates
from foldedcnn_jax.data import noscope, scene_video
from foldedcnn_jax.errors import UserInputError
from foldedcnn_jax.tasks import get_task
from foldedcnn_jax.train import recipe
from foldedcnn_jax.video_filter import FilterOptions, Video

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMES_PER_CHUNK = 13  # n2 cuts 8 chunks: 104 frames; val = 26:39, test = 39:52


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
  options = scene_video.SceneOptions(frames_per_chunk=FRAMES_PER_CHUNK, height=48, width=64,
                                     objects_per_100_frames=8)
  return scene_video.ensure_scene_video(get_task("n2"), str(tmp_path_factory.mktemp("video")),
                                        options=options, progress=False)


def _train(config, tmp_path_factory, fold, **data):
  config.fold, config.num_epochs, config.progress, config.batch_size = fold, 1, False, 4
  config.workdir = str(tmp_path_factory.mktemp(f"run-f{fold}"))
  config.data.data_dir = str(tmp_path_factory.mktemp("data"))
  for key, value in data.items():
    setattr(config.data, key, value)
  recipe.train_and_evaluate(config)
  return config.workdir


@pytest.fixture(scope="module")
def runs(clip, tmp_path_factory):
  """One-epoch n2 runs on the clip at f = 2 and f = 1."""
  video, labels_csv = clip
  return {fold: _train(n2.get_config("quick"), tmp_path_factory, fold, video=video,
                       labels_csv=labels_csv) for fold in (2, 1)}


def _decoded(video: str) -> np.ndarray:
  """Every frame decoded sequentially and resized by the ingest's function."""
  import cv2

  capture, images = cv2.VideoCapture(video), []
  while (image := capture.read()[1]) is not None:
    images.append(noscope.to_model_frame(image, (50, 50)))
  return np.stack(images)


@pytest.mark.parametrize("batch_images, workers", [(8, 2), (6, 3), (256, 0)])
def test_rows_are_the_frames_and_decisions_the_predictors(clip, runs, tmp_path, batch_images,
                                                          workers):
  predictor = predict.load(runs[2], batch_images=batch_images)
  video = Video(clip[0])
  frames = video.frame_range("3:100")  # 97 frames: a ragged last batch and a half-empty group
  options = FilterOptions("consecutive", batch_images=batch_images, decode_workers=workers,
                          progress=False)
  result = video_filter.filter_video(predictor, video, frames, options)
  out = tmp_path / "filter.csv"
  result.write_csv(str(out))
  rows = np.loadtxt(out, delimiter=",", skiprows=1)
  np.testing.assert_array_equal(rows[:, 0], np.arange(3, 100))
  expected = predictor(_decoded(clip[0])[3:100])  # folds frames 3,4 | 5,6 | … like one pass
  np.testing.assert_array_equal(result.decisions, expected.labels)
  np.testing.assert_array_equal(rows[:, 2], expected.labels)
  np.testing.assert_allclose(result.probabilities, expected.probabilities[:, 1], atol=1e-5)
  assert set(result.stage_seconds) == set(video_filter.STAGES) and result.frames_per_second > 0
  assert os.listdir(tmp_path) == ["filter.csv"]  # the temporary file was renamed


def test_strided_grouping_folds_one_frame_of_each_segment():
  options = FilterOptions(grouping="strided", batch_images=6)
  assert options.lanes([7], 3) == [[range(0, 3)], [range(3, 6)], [range(6, 7)]]
  np.testing.assert_array_equal(options.slots([7], 3),
                                [0, 3, 6, 1, 4, -1, 2, 5, -1])
  # Two clips of 4 and 3 frames cut into 2 segments: the first segment ends inside clip 1.
  assert options.lanes([4, 3], 2) == [[range(0, 4)], [range(4, 7)]]
  assert options.lanes([3, 4], 2) == [[range(0, 3), range(3, 4)], [range(4, 7)]]
  three_workers = FilterOptions(grouping="strided", batch_images=6, decode_workers=3)
  assert three_workers.lanes([16], 1) == [  # f = 1: consecutive
      [range(0, 6)], [range(6, 12)], [range(12, 16)]]
  consecutive = FilterOptions("consecutive", batch_images=4, decode_workers=2)
  assert consecutive.lanes([13], 2) == [[range(0, 4), range(4, 8)],
                                                      [range(8, 12), range(12, 13)]]
  np.testing.assert_array_equal(consecutive.slots([5], 2), [0, 1, 2, 3, 4, -1])
  # A clip starts a new batch, so no folded input holds frames of two clips.
  np.testing.assert_array_equal(consecutive.slots([3, 3], 2),
                                [0, 1, 2, -1, 3, 4, 5, -1])


def test_interleaved_grouping_folds_one_frame_of_each_clip():
  options = FilterOptions(grouping="interleaved", batch_images=8)
  # As many clips as slots: clip j fills slot j; a shorter clip's slot is padding at the end.
  assert options.lanes([3, 2], 2) == [[range(0, 3)], [range(3, 5)]]
  np.testing.assert_array_equal(options.slots([3, 2], 2), [0, 3, 1, 4, 2, -1])
  # More clips than slots: slot j takes clips j, j+f, ... one after another.
  assert options.lanes([2, 2, 2, 1], 2) == [[range(0, 2), range(4, 6)],
                                                          [range(2, 4), range(6, 7)]]
  # Fewer clips than slots: each clip is cut into segments, f lanes in all.
  assert options.lanes([4, 2], 3) == [[range(0, 2)], [range(2, 4)], [range(4, 6)]]
  assert options.lanes([1, 2], 3) == [[range(0, 1)], [], [range(1, 3)]]
  np.testing.assert_array_equal(options.slots([1, 2], 3), [0, -1, 1, -1, -1, 2])
  # auto: strided for one clip, interleaved for several; f = 1 is always consecutive.
  auto = FilterOptions(batch_images=8)
  assert auto.resolved(1, 4) == "strided" and auto.resolved(3, 4) == "interleaved"
  assert auto.resolved(3, 1) == "consecutive"


def test_strided_results_come_back_in_frame_order(clip, runs):
  predictor = predict.load(runs[2], batch_images=8)
  video, frames = Video(clip[0]), range(5, 60)
  options = FilterOptions(grouping="strided", batch_images=8, progress=False)
  result = video_filter.filter_video(predictor, video, frames, options)
  slots = options.slots([len(frames)], 2) + frames.start * (
      options.slots([len(frames)], 2) >= 0)
  images = _decoded(clip[0])
  arranged = np.where((slots >= 0)[:, None, None, None], images[np.maximum(slots, 0)], 0)
  by_frame = dict(zip(slots, predictor(arranged.astype(np.uint8)).labels, strict=True))
  np.testing.assert_array_equal(result.frames, np.arange(5, 60))
  np.testing.assert_array_equal(result.decisions, [by_frame[frame] for frame in frames])


def test_interleaved_clips_match_the_predictors_interleaved_streams(clip, runs, tmp_path):
  predictor = predict.load(runs[2], batch_images=8)
  video = Video(clip[0])
  clips = [video_filter.Clip(video, range(5, 40)), video_filter.Clip(video, range(50, 80))]
  options = FilterOptions(batch_images=8, progress=False)  # auto: interleaved
  result = video_filter.filter_clips(predictor, clips, options)
  assert result.grouping == "interleaved"
  images = _decoded(clip[0])
  expected = predictor.interleaved([images[5:40], images[50:80]])
  np.testing.assert_array_equal(result.frames, [*range(5, 40), *range(50, 80)])
  np.testing.assert_array_equal(result.clip_of_frame, [0] * 35 + [1] * 30)
  np.testing.assert_array_equal(result.decisions, np.concatenate([e.labels for e in expected]))
  np.testing.assert_allclose(result.probabilities,
                             np.concatenate([e.probabilities[:, 1] for e in expected]), atol=1e-5)
  out = tmp_path / "several.csv"
  result.write_csv(str(out))
  lines = out.read_text().splitlines()
  assert lines[0] == "video,frame,probability,decision" and len(lines) == 66
  assert lines[1].startswith(f"{clip[0]},5,") and lines[36].startswith(f"{clip[0]},50,")


@pytest.mark.parametrize("grouping", ["strided", "consecutive"])
def test_resizing_on_the_device_gives_the_hosts_results(clip, runs, grouping):
  predictor = predict.load(runs[2], batch_images=8)
  video, frames = Video(clip[0]), range(3, 70)
  assert video.frame_hw == (48, 64)
  results = {resize: video_filter.filter_video(predictor, video, frames, FilterOptions(
      grouping, batch_images=8, progress=False, resize=resize)) for resize in ("host", "device")}
  assert results["host"].resize == "host" and results["device"].resize == "device"
  np.testing.assert_array_equal(results["device"].frames, results["host"].frames)
  np.testing.assert_array_equal(results["device"].decisions, results["host"].decisions)
  np.testing.assert_allclose(results["device"].probabilities, results["host"].probabilities,
                             atol=1e-6)
  assert results["device"].stage_seconds["resize"] == 0  # the host only decoded


def test_device_resize_is_the_ingest_resize_then_the_fold():
  rng = np.random.default_rng(0)
  frames = rng.integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)
  from foldedcnn_jax.runtime import folding

  resized = np.asarray(video_filter.DeviceResize((48, 64), (50, 50), 3)(frames))
  expected = folding.fold(np.stack([noscope.to_model_frame(f, (50, 50)) for f in frames]), 3)
  np.testing.assert_array_equal(resized, expected)


def test_resize_choice_and_one_frame_size_for_the_device(clip, tmp_path):
  import cv2

  small = str(tmp_path / "small.avi")
  writer = cv2.VideoWriter(small, cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
  for index in range(5):
    writer.write(np.full((24, 32, 3), index * 9, np.uint8))
  writer.release()
  same = [video_filter.Clip(Video(clip[0]), range(0, 4))] * 2
  mixed = [same[0], video_filter.Clip(Video(small), range(0, 4))]
  auto = FilterOptions()
  assert auto.resize_on(same, "gpu") == "device" and auto.resize_on(same, "cpu") == "host"
  assert auto.resize_on(mixed, "gpu") == "host"
  assert FilterOptions(resize="device").resize_on(same, "cpu") == "device"
  with pytest.raises(UserInputError, match="--resize=device needs videos of one frame size, "
                                           "got 32x24, 64x48"):
    FilterOptions(resize="device").resize_on(mixed, "cpu")
  with pytest.raises(UserInputError, match="resize must be one of auto, host, device"):
    FilterOptions(resize="gpu").check(2)


def test_the_bounds_run(clip, runs):
  video = Video(clip[0])
  clips = [video_filter.Clip(video, video.frame_range(""))]
  assert rates.decode_frames_per_second(clips, (50, 50), 2, resize=True) > 0
  predictor = predict.load(runs[2], batch_images=8)
  assert rates.model_images_per_second(predictor.runner.replicated(), batch_images=8,
                                      num_images=20, trials=1, fetch=True) > 0


def test_the_job_reports_the_cascade_and_section_g(clip, runs, tmp_path):
  video, labels_csv = clip
  lines = []
  job = filter_job.Job(runs[2], video, str(tmp_path / "f.csv"), labels_csv=labels_csv,
                       compare=runs[1], reference_images_per_second=50.0, bounds=True,
                       options=FilterOptions(batch_images=16, progress=False))
  report = filter_job.run(job, say=lines.append)
  folded, unfolded = report.results
  assert [len(r.frames) for r in report.results] == [104, 104]
  assert [o.frames for o in report.outcomes] == [13, 13]  # the test chunk
  labels = noscope.frame_labels(labels_csv, get_task("n2"), Video(video).num_frames)
  assert report.outcomes[0].filter_accuracy == np.mean(folded.decisions[39:52] == labels[39:52])
  comparison = report.comparison
  x = folded.frames_per_second / unfolded.frames_per_second
  a = report.outcomes[1].filter_accuracy - report.outcomes[0].filter_accuracy
  assert comparison.speedup == pytest.approx(x) and comparison.accuracy_gap == pytest.approx(a)
  if a > 0:
    assert comparison.break_even == pytest.approx(costs.system_break_even_ratio(x, a))
  assert any(line.startswith("§G: x = ") for line in lines)
  assert sum("cascade (f=" in line for line in lines) == 2
  assert sum(line.startswith("bounds: decode only ") for line in lines) == 1
  assert sum("the stages add up" in line for line in lines) == 1  # the model runs on the CPU


def test_the_job_filters_several_videos_with_their_labels(clip, runs, tmp_path):
  video, labels_csv = clip
  job = filter_job.Job(runs[2], (video, video), str(tmp_path / "f.csv"),
                       labels_csv=(labels_csv, labels_csv), frames="10:104",
                       reference_images_per_second=50.0,
                       options=FilterOptions(batch_images=16, progress=False))
  lines = []
  report = filter_job.run(job, say=lines.append)
  (result,) = report.results
  assert result.grouping == "interleaved" and len(result.frames) == 2 * 94
  assert report.outcomes[0].frames == 26  # the test chunk of each video
  labels = noscope.frame_labels(labels_csv, get_task("n2"), Video(video).num_frames)
  test = np.r_[39 - 10:52 - 10, 94 + 39 - 10:94 + 52 - 10]
  assert report.outcomes[0].filter_accuracy == np.mean(result.decisions[test] ==
                                                        np.r_[labels[39:52], labels[39:52]])
  assert "26 frames of 2 videos" in lines[-1]
  with pytest.raises(UserInputError, match=r"names 1 label file\(s\) for 2 video\(s\)"):
    filter_job.run(dataclasses.replace(job, labels_csv=labels_csv, out=str(tmp_path / "g.csv")),
                   say=lambda line: None)
  assert not (tmp_path / "g.csv").exists()


def _truncated_avi(path) -> str:
  import cv2

  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
  for index in range(40):
    writer.write(np.full((48, 64, 3), index * 5, np.uint8))
  writer.release()
  data = path.read_bytes()
  path.write_bytes(data[:len(data) // 2])
  return str(path)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  return _train(tiny.get_config("quick"), tmp_path_factory, 1)


@pytest.mark.parametrize("problem, message", [
    ("missing video", r"cannot read video .*: no such file"),
    ("not a video", r"cannot decode video .*OpenCV cannot open it"),
    ("truncated video", r"ended at frame \d+, before the 40 frames its header promises"),
    ("frames out of range", r"frames 50:200 are out of range: .* has frames 0:104"),
    ("frames backwards", r"frames 9:3 are out of range"),
    ("frames malformed", r"frames must be START:STOP, got 'a:b'"),
    ("not a NoScope workdir", r"is task tiny \(toy\), not a NoScope video task"),
    ("missing workdir", r"no such workdir or checkpoint directory"),
])
def test_bad_input_is_one_error_and_no_output(clip, runs, tiny_run, tmp_path, problem, message):
  video, workdir, frames = clip[0], runs[2], ""
  if problem == "missing video":
    video = str(tmp_path / "nothing.mp4")
  elif problem == "not a video":
    video = str(tmp_path / "text.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
  elif problem == "truncated video":
    video = _truncated_avi(tmp_path / "cut.avi")
  elif problem.startswith("frames"):
    frames = {"frames out of range": "50:200", "frames backwards": "9:3"}.get(problem, "a:b")
  elif problem == "not a NoScope workdir":
    workdir = tiny_run
  else:
    workdir = str(tmp_path / "no-run")
  out = tmp_path / "out" / "filter.csv"
  job = filter_job.Job(workdir, video, str(out), frames=frames,
                       options=FilterOptions(batch_images=8, progress=False))
  with pytest.raises(UserInputError, match=message):
    filter_job.run(job, say=lambda line: None)
  assert not out.exists() and not (out.parent.exists() and os.listdir(out.parent))


def test_cli_bad_video_is_one_error_line_before_any_ffmpeg_noise(clip, runs, tmp_path):
  cut = tmp_path / "cut.mp4"
  cut.write_bytes(open(clip[0], "rb").read()[:5000])  # the moov atom is at the end: lost
  out = tmp_path / "filter.csv"
  completed = subprocess.run(
      [sys.executable, "-m", "experiments.filter_video", f"--workdir={runs[2]}",
       f"--video={cut}", f"--out={out}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert completed.returncode == 2, completed.stderr
  assert completed.stderr.strip().splitlines() == [
      f"error: cannot decode video {str(cut)!r}: OpenCV cannot open it as a video"]
  assert not out.exists() and os.listdir(tmp_path) == ["cut.mp4"]
