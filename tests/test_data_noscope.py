"""NoScope ingest: labels from the CSV, chunk boundaries, 50×50 frames, synthetic scene video,
and clear errors for bad input."""

import csv
import dataclasses
import os
import subprocess
import sys

import band_video  # tests/band_video.py
import cv2
import numpy as np
import pytest

from foldedcnn_jax import data
from foldedcnn_jax.data import noscope, prepare, scene_video
from foldedcnn_jax.data.common import DatasetError
from foldedcnn_jax.tasks import get_task

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM_FRAMES = 40  # n2 cuts 8 chunks of 5 frames; train/val/test are chunks 2/3/4 → frames 5..19
POSITIVE = {5, 6, 12, 13, 14, 19, 30}


def _write_video(path, num_frames=NUM_FRAMES):
  return band_video.write(path, num_frames)


def _write_csv(path, rows, header=scene_video.CSV_COLUMNS):
  with open(path, "w", newline="") as handle:
    writer = csv.writer(handle)
    writer.writerow(header)
    writer.writerows(rows)
  return str(path)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
  directory = tmp_path_factory.mktemp("clip")
  rows = [(frame, "car", 0.9, 1, 2, 10, 12) for frame in sorted(POSITIVE)]
  rows += [(frame, "person", 0.8, 3, 3, 9, 9) for frame in (7, 8, 13, 16)]  # not n2's object
  return _write_video(directory / "clip.mp4"), _write_csv(directory / "clip.csv", rows)


def _frames(location, split):
  source = prepare.data_source(location, split)
  return [int(source[index]["frame"]) for index in range(len(source))]


def test_ingest_labels_and_split_boundaries(clip, tmp_path):
  video, labels_csv = clip
  source = data.Source(str(tmp_path), video=video, labels_csv=labels_csv)
  location = prepare.dataset_location("n2", source, progress=False)
  for split, first in (("train", 5), ("val", 10), ("test", 15)):
    images, labels = data.load_split("n2", split, source, progress=False)
    frames = _frames(location, split)
    assert frames == list(range(first, first + 5))
    assert images.shape == (5, 50, 50, 3) and images.dtype == np.uint8
    assert labels.tolist() == [int(frame in POSITIVE) for frame in frames]
    # The decoded frame is the one the label belongs to (no off-by-one in seeking).
    assert [band_video.index_of(image) for image in images] == frames


def test_scale_strides_train_and_eval_scale_strides_val_and_test(clip, tmp_path):
  video, labels_csv = clip
  source = data.Source(str(tmp_path), scale=0.5, video=video, labels_csv=labels_csv)
  location = prepare.dataset_location("n2", source, progress=False)
  assert _frames(location, "train") == [5, 7, 9]
  assert _frames(location, "val") == list(range(10, 15))  # eval_scale 1: every frame
  both = prepare.dataset_location("n2", dataclasses.replace(source, eval_scale=0.5), progress=False)
  assert both.data_dir != location.data_dir
  assert _frames(both, "train") == [5, 7, 9] and _frames(both, "test") == [15, 17, 19]


def test_a_scale_above_one_trains_on_further_chunks_away_from_val_and_test(clip, tmp_path):
  video, labels_csv = clip
  # n2: train chunk 2, val 3, test 4; chunk 5 touches test, so chunks 1, 6, 7, 8 may be added,
  # nearest first. Scale 2.4: chunk 2, all of chunk 1, and 2 frames (0.4 × 5) of chunk 6.
  source = data.Source(str(tmp_path), scale=2.4, video=video, labels_csv=labels_csv)
  location = prepare.dataset_location("n2", source, progress=False)
  frames = [*range(0, 10), 25, 26]
  assert _frames(location, "train") == frames
  assert _frames(location, "val") == list(range(10, 15))  # val and test keep their chunks
  assert _frames(location, "test") == list(range(15, 20))
  images, labels = data.load_split("n2", "train", source, progress=False)
  assert [band_video.index_of(image) for image in images] == frames
  assert labels.tolist() == [int(frame in POSITIVE) for frame in frames]
  assert noscope.extra_train_chunks(get_task("n1")) == [5, 4, 3, 2, 1]  # val 7, test 8
  assert noscope.extra_train_chunks(get_task("n4")) == list(range(5, 17))  # val 2, test 3
  with pytest.raises(DatasetError, match=r"only 5 chunks are neither val/test nor next to them"):
    noscope.chunk_plan(get_task("n2"), NUM_FRAMES, scale=5.5)


def test_splits_read_in_any_order(clip):
  video, labels_csv = clip
  ingest = noscope.Ingest(get_task("n2"), video, labels_csv, progress=False)
  test_frames = [frame for frame, _, _ in ingest.examples("test")]
  train = list(ingest.examples("train"))  # goes back: reopens the video
  assert test_frames == list(range(15, 20)) and [f for f, _, _ in train] == list(range(5, 10))
  assert [band_video.index_of(image) for _, _, image in train] == list(range(5, 10))


def test_chunk_plans_of_the_paper():
  expected = {"n1": (6, 7, 8), "n2": (2, 3, 4), "n3": (2, 3, 4), "n4": (1, 2, 3)}
  for task_id, chunks in expected.items():
    task = get_task(task_id)
    plan = noscope.chunk_plan(task, 1600)
    size = 1600 // task.noscope.num_chunks
    assert plan.ranges == {split: ((c - 1) * size, c * size)
                           for split, c in zip(("train", "val", "test"), chunks, strict=True)}


def test_synthetic_scene_video_matches_its_csv(tmp_path):
  task = get_task("n4")
  options = scene_video.SceneOptions(frames_per_chunk=40, objects_per_100_frames=10, height=48,
                                     width=64)
  video, labels_csv = scene_video.ensure_scene_video(task, str(tmp_path), options=options,
                                                     progress=False)
  assert noscope.count_frames(video) == 40 * task.noscope.num_chunks
  with open(labels_csv) as handle:
    rows = list(csv.DictReader(handle))
  assert tuple(rows[0]) == scene_video.CSV_COLUMNS
  positives, _ = noscope.positive_frames(labels_csv, "bus")
  for chunk in range(task.noscope.num_chunks):  # every chunk, hence every split, has positives
    assert positives & set(range(40 * chunk, 40 * (chunk + 1)))
  for row in rows:
    assert 0 <= int(row["xmin"]) < int(row["xmax"]) <= 64
    assert 0 <= int(row["ymin"]) < int(row["ymax"]) <= 48
  # The CSV labels exactly the schedule's visible boxes (the test above counts from it).
  tracks = scene_video.scene_tracks(task, options)
  expected = sorted((frame, track.kind, *box) for track in tracks
                    for frame, box in track.labelled(options))
  assert sorted((int(row["frame"]), row["object_name"], int(row["xmin"]), int(row["ymin"]),
                 int(row["xmax"]), int(row["ymax"])) for row in rows) == expected
  again = scene_video.ensure_scene_video(task, str(tmp_path), options=options, progress=False)
  assert again == (video, labels_csv)


def _labelled_frames(tracks, options, kind):
  return {int(frame) for track in tracks if track.kind == kind
          for frame in track.labelled_frames(options)}


@pytest.mark.parametrize("task_id", ["n1", "n2", "n3", "n4"])
def test_default_scene_splits_hold_50_objects_and_3000_frames(task_id):
  """Counted from the schedule the renderer draws and labels (no rendering needed)."""
  task, options = get_task(task_id), scene_video.SceneOptions()
  assert options.frames_per_chunk >= 3000  # one chunk is one split
  tracks = scene_video.scene_tracks(task, options)
  size, kind = options.frames_per_chunk, task.noscope.object_name
  positives = _labelled_frames(tracks, options, kind)
  labelled = [(track, track.labelled_frames(options)) for track in tracks]
  for chunk in task.noscope.split_chunks:
    frames = range((chunk - 1) * size, chunk * size)
    seen = [track for track, labelled_frames in labelled
            if ((labelled_frames >= frames.start) & (labelled_frames < frames.stop)).any()]
    assert sum(track.kind == kind for track in seen) >= 50
    assert sum(track.kind != kind for track in seen) >= 3  # distractors of the other kind
    fraction = len(positives & set(frames)) / size
    assert 0.25 < fraction < 0.75, (chunk, fraction)  # both classes well represented


def test_scene_objects_vary_in_size_speed_direction_and_overlap():
  task, options = get_task("n2"), scene_video.SceneOptions()
  tracks = [track for track in scene_video.scene_tracks(task, options) if track.kind == "car"]
  heights = np.array([track.boxes[0, 3] - track.boxes[0, 1] for track in tracks])
  assert heights.max() > 2.5 * heights.min()  # perspective: near objects are larger
  speeds = np.array([abs(track.boxes[1, 0] - track.boxes[0, 0]) for track in tracks])
  assert speeds.max() > 2.5 * speeds.min()
  assert 0.3 < np.mean([track.facing_right for track in tracks]) < 0.7
  depth_changes = [abs(track.boxes[-1, 3] - track.boxes[0, 3]) > 5 for track in tracks]
  assert 0.2 < np.mean(depth_changes) < 0.8  # some cross the road, some approach or recede
  assert len({track.appearance_seed for track in tracks}) == len(tracks)
  gaps = np.diff([track.first_frame for track in tracks])
  assert gaps.std() > 0.5 * gaps.mean()  # random arrival times, not a metronome
  busy = np.zeros(options.frames_per_chunk * task.noscope.num_chunks, int)
  for track in tracks:
    busy[track.labelled_frames(options)] += 1
  assert (busy >= 2).mean() > 0.05  # objects overlap in time (and so, often, in the image)


def test_night_scene_is_dark_and_cars_carry_lights(tmp_path):
  task = get_task("n2")
  options = scene_video.SceneOptions(frames_per_chunk=150)
  video, labels_csv = scene_video.ensure_scene_video(task, str(tmp_path), options=options,
                                                     progress=False)
  positives, _ = noscope.positive_frames(labels_csv, "car")
  capture, brightest = cv2.VideoCapture(video), {True: [], False: []}
  frames = []
  while (decoded := capture.read())[0]:
    frames.append(decoded[1])
  capture.release()
  for index, image in enumerate(frames):
    brightest[index in positives].append(np.percentile(image.max(axis=2), 99.9))
  assert np.median([image.mean() for image in frames]) < 60  # a dark scene
  assert np.median(brightest[True]) > np.median(brightest[False]) + 40  # headlights
  # Lighting drifts and the sensor is noisy: no two frames are the same.
  assert not np.array_equal(frames[0], frames[1])


def test_default_embedded_scene_video_builds(tmp_path):
  directory = data.prepare_dataset("n2", data.Source(str(tmp_path)), progress=False)
  assert os.path.isfile(os.path.join(directory, "dataset_info.json"))
  per_split = scene_video.SceneOptions().frames_per_chunk
  for split in ("train", "val", "test"):
    labels = data.split_labels("n2", split, data.Source(str(tmp_path)), progress=False)
    assert len(labels) == per_split and 0 < labels.mean() < 1  # both classes present
  assert os.listdir(tmp_path / "videos")


def test_undecodable_video_prints_only_the_error_line(tmp_path):
  """FFmpeg's own log ("moov atom not found") must not precede the one `error:` line."""
  video = tmp_path / "fake.mp4"
  video.write_text("not a video")
  labels_csv = _write_csv(tmp_path / "x.csv", [(1, "car", 1, 0, 0, 1, 1)])
  env = {name: value for name, value in os.environ.items() if name != "OPENCV_FFMPEG_LOGLEVEL"}
  result = subprocess.run(
      [sys.executable, "-m", "experiments.make_dataset", "--task=n2", f"--video={video}",
       f"--labels_csv={labels_csv}", f"--data_dir={tmp_path / 'data'}", "--noprogress"],
      capture_output=True, text=True, env=env, cwd=_REPO, timeout=300, check=False)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
      f"error: cannot decode video {str(video)!r}: OpenCV cannot open it as a video"]


@pytest.mark.parametrize("problem, message", [
    ("missing_video", "does not exist"),
    ("missing_columns", "lacks column(s) object_name"),
    ("short_video", "needs at least 8 frames"),
    ("csv_beyond_video", "mismatched pair"),
    ("not_a_video", "cannot decode video"),
    ("bad_frame", "is not a frame number"),
    ("only_video", "give both video and labels_csv"),
])
def test_bad_input_is_one_clear_error(clip, tmp_path, problem, message):
  video, labels_csv = clip
  if problem == "missing_video":
    video = str(tmp_path / "nope.mp4")
  elif problem == "missing_columns":
    labels_csv = _write_csv(tmp_path / "x.csv", [(1, 2)], header=("frame", "label"))
  elif problem == "short_video":
    video = _write_video(tmp_path / "short.mp4", num_frames=5)
    labels_csv = _write_csv(tmp_path / "x.csv", [(1, "car", 1, 0, 0, 1, 1)])
  elif problem == "csv_beyond_video":
    labels_csv = _write_csv(tmp_path / "x.csv", [(99, "car", 1, 0, 0, 1, 1)])
  elif problem == "not_a_video":
    video = str(tmp_path / "fake.mp4")
    with open(video, "w") as handle:
      handle.write("not a video")
  elif problem == "bad_frame":
    labels_csv = _write_csv(tmp_path / "x.csv", [("seven", "car", 1, 0, 0, 1, 1)])
  elif problem == "only_video":
    labels_csv = None
  with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
    data.prepare_dataset("n2", data.Source(str(tmp_path / "data"), video=video,
                                     labels_csv=labels_csv), progress=False)
  assert "\n" not in str(error.value)
  named = labels_csv if problem in ("missing_columns", "bad_frame", "csv_beyond_video") else video
  if named is not None and problem != "only_video":
    assert named in str(error.value)  # the error names the offending file
  assert not (tmp_path / "data").exists()  # inputs are checked before anything is written


def test_nearest_indices_are_opencvs_nearest_resize():
  import cv2

  rng = np.random.default_rng(0)
  for source_hw in [(120, 160), (48, 64), (1080, 1920), (37, 31), (25, 17)]:
    for target_hw in [(50, 50), (22, 52), (60, 70)]:
      image = rng.integers(0, 256, (*source_hw, 3), dtype=np.uint8)
      rows = noscope.nearest_indices(source_hw[0], target_hw[0])
      columns = noscope.nearest_indices(source_hw[1], target_hw[1])
      expected = cv2.resize(image, target_hw[::-1], interpolation=cv2.INTER_NEAREST)
      np.testing.assert_array_equal(image[rows][:, columns], expected)
