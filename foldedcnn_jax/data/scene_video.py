"""The embedded synthetic NoScope video: a fixed camera looking at a static scene (lighting
drift and sensor noise) where objects of the task's kind enter, cross and leave the view at
random times. Writes an mp4 plus a label CSV in the NoScope format, which then goes through
exactly the same ingest path as a real NoScope video.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

from foldedcnn_jax.data.common import DatasetError, atomic_path, ensure_writable_dir
from foldedcnn_jax.tasks import Task

CSV_COLUMNS = ("frame", "object_name", "confidence", "xmin", "ymin", "xmax", "ymax")
# Per object kind: (height, width) as fractions of the frame height/width.
_SIZES = {"person": (0.32, 0.09), "car": (0.16, 0.26), "bus": (0.27, 0.5)}
# Another kind also passes by now and then, so a frame can have a row and still be negative.
_DISTRACTOR = {"person": "car", "car": "person", "bus": "car"}
_PALETTES = {  # (sky/top, ground/bottom, brightness) of each task's scene
    "coral": ((40, 120, 150), (30, 90, 110), 1.0),
    "night": ((15, 15, 35), (45, 45, 50), 0.55),
    "roundabout": ((150, 190, 220), (95, 95, 100), 1.0),
    "taipei": ((170, 180, 190), (80, 80, 85), 0.9),
}


@dataclasses.dataclass(frozen=True)
class SceneOptions:
  """Synthetic scene video knobs; the defaults make a video small enough for a CPU run."""

  frames_per_chunk: int = 600  # video length = frames_per_chunk × the task's number of chunks
  objects_per_100_frames: float = 1.0  # arrival rate of the task's object
  distractors_per_100_frames: float = 0.2  # arrival rate of the other kind
  height: int = 120
  width: int = 160
  fps: int = 25

  def check(self) -> SceneOptions:
    if self.frames_per_chunk < 1 or self.height < 16 or self.width < 16 or self.fps < 1:
      raise DatasetError(f"scene options out of range: {self}")
    if self.objects_per_100_frames < 0 or self.distractors_per_100_frames < 0:
      raise DatasetError(f"scene object rates must be >= 0: {self}")
    return self


@dataclasses.dataclass(frozen=True)
class _Track:
  """One object crossing the view in a straight line at constant speed."""

  kind: str
  first_frame: int
  speed: float  # pixels per frame, signed (negative: right to left)
  start_x: float  # left edge at first_frame
  top: float
  height: int
  width: int
  colour: tuple[int, int, int]
  confidence: float

  def box(self, frame: int) -> tuple[float, float, float, float]:
    left = self.start_x + self.speed * (frame - self.first_frame)
    return left, self.top, left + self.width, self.top + self.height

  def last_frame(self, width: int) -> int:
    distance = width + self.width  # from fully outside one side to fully outside the other
    return self.first_frame + int(np.ceil(distance / abs(self.speed)))


def _arrivals(rate: float, num_frames: int, chunk_size: int | None,
              rng: np.random.Generator) -> list[int]:
  """Arrival frames at `rate` per 100 frames.

  Without `chunk_size`: a Poisson process. With it: stratified, the same number of arrivals
  (at least one) in every chunk, each in the first 3/4 of its own equal slot of the chunk, so
  train, val and test (whole chunks) see about the same fraction of positive frames.
  """
  if rate <= 0:
    return []
  if not chunk_size:
    arrivals, frame = [], 0
    while (frame := frame + int(rng.exponential(100.0 / rate)) + 1) < num_frames:
      arrivals.append(frame)
    return arrivals
  per_chunk = max(1, int(np.floor(rate * chunk_size / 100 + 0.5)))
  slot = chunk_size / per_chunk
  return [int(chunk_start + slot * (index + rng.uniform(0, 0.75)))
          for chunk_start in range(0, num_frames - chunk_size + 1, chunk_size)
          for index in range(per_chunk)]


def _tracks(kind: str, arrivals: list[int], options: SceneOptions,
            rng: np.random.Generator) -> list[_Track]:
  tracks = []
  height_fraction, width_fraction = _SIZES[kind]
  for frame in arrivals:
    object_h = max(4, int(options.height * height_fraction * rng.uniform(0.8, 1.2)))
    object_w = max(4, int(options.width * width_fraction * rng.uniform(0.8, 1.2)))
    # Fast enough to be fully in view within a quarter chunk of its arrival.
    speed = rng.uniform(1.0, 2.5) * options.width / 100 * rng.choice([-1, 1])
    start_x = -object_w if speed > 0 else options.width
    ground = options.height * 0.45  # objects move on the lower half (road / sea floor)
    top = rng.uniform(ground, options.height - object_h) - (object_h if kind == "person" else 0) / 3
    colour = tuple(int(value) for value in rng.integers(30, 256, size=3))
    tracks.append(_Track(kind, frame, float(speed), float(start_x), float(top), object_h,
                         object_w, colour, float(rng.uniform(0.5, 1.0))))
  return tracks


def _background(scene: str, options: SceneOptions, rng: np.random.Generator) -> np.ndarray:
  """The static scene: sky/ground gradient, a few buildings or rocks, a lane line."""
  top, bottom, brightness = _PALETTES.get(scene, _PALETTES["roundabout"])
  rows = np.linspace(0, 1, options.height, dtype=np.float32)[:, None, None]
  image = (np.array(top, np.float32) * (1 - rows) + np.array(bottom, np.float32) * rows)
  image = np.broadcast_to(image, (options.height, options.width, 3)).copy()
  horizon = int(options.height * 0.42)
  for _ in range(int(rng.integers(4, 9))):  # buildings / rocks along the horizon
    block_w = int(rng.integers(options.width // 12, options.width // 4))
    block_h = int(rng.integers(options.height // 10, options.height // 3))
    left = int(rng.integers(0, options.width - block_w))
    shade = rng.uniform(0.5, 1.3) * np.array(bottom, np.float32)
    image[max(0, horizon - block_h):horizon, left:left + block_w] = shade
  lane = int(options.height * 0.72)
  image[lane:lane + 2, ::8] = 200  # dashed lane marking
  texture = rng.normal(0, 6, size=image.shape[:2])[..., None]
  return np.clip((image + texture) * brightness, 0, 255).astype(np.float32)


def _draw(frame_image: np.ndarray, track: _Track, box, night: bool) -> None:
  import cv2

  left, top, right, bottom = (int(round(value)) for value in box)
  colour = track.colour
  if track.kind == "person":
    head = max(2, track.width // 2)
    cv2.circle(frame_image, ((left + right) // 2, top + head), head, (200, 170, 150), -1)
    cv2.rectangle(frame_image, (left, top + 2 * head), (right, bottom - track.height // 3),
                  colour, -1)
    leg_top, leg_w, trousers = bottom - track.height // 3, track.width // 3, (40, 40, 60)
    cv2.rectangle(frame_image, (left, leg_top), (left + leg_w, bottom), trousers, -1)
    cv2.rectangle(frame_image, (right - leg_w, leg_top), (right, bottom), trousers, -1)
    return
  body_top = top + (track.height // 3 if track.kind == "car" else 0)
  cv2.rectangle(frame_image, (left, body_top), (right, bottom - track.height // 6), colour, -1)
  if track.kind == "car":
    cv2.rectangle(frame_image, (left + track.width // 5, top), (right - track.width // 5, body_top),
                  tuple(int(c * 0.7) for c in colour), -1)
  else:  # bus: a row of windows
    for window in range(left + 3, right - 6, max(6, track.width // 8)):
      cv2.rectangle(frame_image, (window, top + 3), (window + 4, top + track.height // 3),
                    (180, 210, 230), -1)
  wheel = max(2, track.height // 6)
  for x in (left + track.width // 5, right - track.width // 5):
    cv2.circle(frame_image, (x, bottom - wheel), wheel, (20, 20, 20), -1)
  if night:  # headlights make cars visible at night
    front = right if track.speed > 0 else left
    cv2.circle(frame_image, (front, bottom - 2 * wheel), max(2, wheel), (255, 255, 220), -1)


def _visible_box(box, options: SceneOptions) -> tuple[int, int, int, int] | None:
  """The on-screen part of a box, if at least a quarter of the object is in view."""
  left, top, right, bottom = box
  clipped = (max(left, 0), max(top, 0), min(right, options.width), min(bottom, options.height))
  area = max(0.0, clipped[2] - clipped[0]) * max(0.0, clipped[3] - clipped[1])
  if area < 0.25 * (right - left) * (bottom - top):
    return None
  return tuple(int(round(value)) for value in clipped)


def write_scene_video(task: Task, video_path: str, labels_csv: str, *, seed: int = 0,
                      options: SceneOptions | None = None, progress: bool = True) -> int:
  """Writes the synthetic scene mp4 and its NoScope label CSV; returns the number of frames."""
  import cv2
  from tqdm import tqdm

  options = (options or SceneOptions()).check()
  source = task.noscope
  num_frames = options.frames_per_chunk * source.num_chunks
  rng = np.random.default_rng([seed, sum(map(ord, task.id))])
  scene = task.name
  background = _background(scene, options, rng)
  arrivals = _arrivals(options.objects_per_100_frames, num_frames, options.frames_per_chunk, rng)
  distractors = _arrivals(options.distractors_per_100_frames, num_frames, None, rng)
  tracks = (_tracks(source.object_name, arrivals, options, rng)
            + _tracks(_DISTRACTOR[source.object_name], distractors, options, rng))
  drift_phase, drift_period = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5) * num_frames
  with atomic_path(video_path) as video_tmp, atomic_path(labels_csv) as csv_tmp:
    writer = cv2.VideoWriter(video_tmp, cv2.VideoWriter_fourcc(*"mp4v"), options.fps,
                             (options.width, options.height))
    if not writer.isOpened():
      raise DatasetError(f"OpenCV cannot write mp4 video {video_path!r} (no mp4v encoder?)")
    with open(csv_tmp, "w", newline="") as handle:
      rows = csv.writer(handle)
      rows.writerow(CSV_COLUMNS)
      for frame in tqdm(range(num_frames), desc=f"{task.id} scene video", unit="frame",
                        disable=not progress, leave=False):
        light = 1.0 + 0.15 * np.sin(2 * np.pi * frame / drift_period + drift_phase)
        image = np.clip(background * light + rng.normal(0, 3, background.shape), 0, 255)
        image = np.ascontiguousarray(image.astype(np.uint8)[..., ::-1])  # RGB → BGR
        for track in tracks:
          if track.first_frame <= frame <= track.last_frame(options.width):
            box = track.box(frame)
            visible = _visible_box(box, options)
            _draw(image, track, box, night=scene == "night")
            if visible is not None:
              rows.writerow((frame, track.kind, f"{track.confidence:.3f}", *visible))
        writer.write(image)
    writer.release()
  return num_frames


def ensure_scene_video(task: Task, directory: str, *, seed: int = 0,
                       options: SceneOptions | None = None,
                       progress: bool = True) -> tuple[str, str]:
  """The (video, labels CSV) paths of the task's synthetic scene, writing them once."""
  options = (options or SceneOptions()).check()
  stem = (f"{task.id}-{task.name}_v2_seed-{seed}_frames-{options.frames_per_chunk}"
          f"_rate-{options.objects_per_100_frames:g}-{options.distractors_per_100_frames:g}"
          f"_{options.width}x{options.height}_fps-{options.fps}")
  video, labels_csv = os.path.join(directory, f"{stem}.mp4"), os.path.join(directory, f"{stem}.csv")
  if not (os.path.isfile(video) and os.path.isfile(labels_csv)):
    ensure_writable_dir(directory)
    write_scene_video(task, video, labels_csv, seed=seed, options=options, progress=progress)
  return video, labels_csv
