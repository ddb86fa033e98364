"""video_decode: positions across clips, the decoding threads' chunks and batches, one decoder
per contiguous stretch, FFmpeg threads per lane, and errors reaching the caller."""

import os

import band_video  # tests/band_video.py
import numpy as np
import pytest

from foldedcnn_jax.data import noscope
from foldedcnn_jax.data.common import DatasetError
from foldedcnn_jax.video_decode import Clip, DecodePipeline, Positions, StageTimes, Video
from foldedcnn_jax.video_decode import frame_numbers as clip_frame_numbers

HW = (50, 50)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
  path = band_video.write(tmp_path_factory.mktemp("video") / "bands.avi", 30, "MJPG")
  return Video(path)




def test_positions_number_clips_one_after_another(video):
  positions = Positions([3, 0, 4])
  assert len(positions) == 7 and positions.offsets == [0, 3, 3, 7]
  assert [positions.clip_of(p) for p in range(7)] == [0, 0, 0, 2, 2, 2, 2]
  assert positions.split(range(1, 6)) == [range(1, 3), range(3, 6)]
  np.testing.assert_array_equal(positions.clip_index(), [0, 0, 0, 2, 2, 2, 2])
  clips = [Clip(video, range(5, 8)), Clip(video, range(20, 22))]
  np.testing.assert_array_equal(clip_frame_numbers(clips), [5, 6, 7, 20, 21])


def _decoded(clips, lanes, chunk, consecutive, fold=None):
  times = StageTimes.of(("decode", "resize"))
  with DecodePipeline(clips, lanes, HW, chunk, times, consecutive=consecutive) as pipeline:
    batches = list(pipeline.batches())
  assert times.seconds["decode"] > 0 and times.seconds["resize"] > 0
  return batches


def test_consecutive_lanes_hand_on_one_chunk_per_range(video):
  clips = [Clip(video, range(2, 9)), Clip(video, range(20, 25))]  # positions 0..6, 7..11
  lanes = [[range(0, 4), range(4, 7)], [range(7, 11), range(11, 12)]]
  batches = _decoded(clips, lanes, chunk=4, consecutive=True)
  frames = {0: [2, 3, 4, 5], 4: [6, 7, 8], 7: [20, 21, 22, 23], 11: [24]}
  assert sorted(len(order) for order, _ in batches) == [1, 3, 4, 4]
  for order, images in batches:
    assert [band_video.index_of(image) for image in images] == frames[order[0]]
    assert list(order) == list(range(order[0], order[0] + len(order)))


def test_slot_lanes_are_put_side_by_side_with_padding(video):
  clips = [Clip(video, range(0, 5)), Clip(video, range(10, 13))]  # positions 0..4, 5..7
  batches = _decoded(clips, [[range(0, 5)], [range(5, 8)]], chunk=2, consecutive=False)
  order = np.concatenate([order for order, _ in batches])
  np.testing.assert_array_equal(order, [0, 5, 1, 6, 2, 7, 3, -1, 4, -1])
  images = np.concatenate([images for _, images in batches])
  read = [band_video.index_of(image) if slot >= 0 else None
          for slot, image in zip(order, images, strict=True)]
  assert read == [0, 10, 1, 11, 2, 12, 3, None, 4, None]
  assert not images[order < 0].any()  # padding is zeros


def test_one_decoder_per_contiguous_stretch_and_one_ffmpeg_thread_per_lane(video, monkeypatch):
  opened = []
  original = noscope.open_capture
  monkeypatch.setattr(noscope, "open_capture", lambda path, threads=0: (
      opened.append(threads), original(path, threads))[1])
  clips = [Clip(video, range(0, 6)), Clip(video, range(6, 9))]  # positions 0..5, 6..8
  # One lane of three batches: 0:3 and 3:6 continue one another in clip 0 (one decoder), 6:9
  # starts clip 1 (a second one), even though clip 1's frames continue clip 0's.
  _decoded(clips, [[range(0, 3), range(3, 6), range(6, 9)]], chunk=3, consecutive=True)
  assert opened == [os.cpu_count() or 1] * 2  # one lane: FFmpeg may use every core
  opened.clear()
  _decoded(clips, [[range(0, 5)], [range(5, 6), range(6, 9)]] + [[]] * 6, chunk=2,
           consecutive=False)
  assert opened == [max(1, (os.cpu_count() or 1) // 8)] * 3  # 8 lanes share the cores


def test_a_lane_s_error_reaches_the_caller(tmp_path, video):
  cut = tmp_path / "cut.avi"
  data = open(video.path, "rb").read()
  cut.write_bytes(data[:len(data) // 2])
  short = Video(str(cut))  # the header still promises 30 frames
  with pytest.raises(DatasetError, match=r"ended at frame \d+, before the 30 frames"):
    _decoded([Clip(short, range(0, 30))], [[range(0, 30)], [range(0, 0)]], chunk=4,
             consecutive=False)


def test_source_output_hands_on_the_decoded_frames_as_they_are(video):
  assert video.frame_hw == (48, 64)
  clips = [Clip(video, range(2, 9))]
  times = StageTimes.of(("decode", "resize"))
  with DecodePipeline(clips, [[range(0, 7)]], video.frame_hw, 4, times, consecutive=True,
                      output="source") as pipeline:
    batches = list(pipeline.batches())
  assert [len(order) for order, _ in batches] == [4, 3] and times.seconds["resize"] == 0
  images = np.concatenate([images for _, images in batches])
  assert images.shape == (7, 48, 64, 3)
  assert [band_video.index_of(noscope.to_model_frame(image, HW)) for image in images] == list(
      range(2, 9))
  with pytest.raises(DatasetError, match="a decoded frame is 64x48, not the 32x24"):
    with DecodePipeline(clips, [[range(0, 7)]], (24, 32), 4, times, consecutive=True,
                        output="source") as pipeline:
      list(pipeline.batches())
