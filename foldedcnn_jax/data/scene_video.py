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

from foldedcnn_jax.data.common import DatasetError, ensure_writable_dir
from foldedcnn_jax.files import atomic_path
from foldedcnn_jax.tasks import Task

CSV_COLUMNS = ("frame", "object_name", "confidence", "xmin", "ymin", "xmax", "ymax")
# Per object kind: height as a fraction of the frame height at the bottom edge (perspective
# shrinks it towards the horizon), and speed in frame widths per 100 frames at that depth.
_HEIGHTS = {"person": 0.42, "car": 0.3, "bus": 0.45}
_SPEEDS = {"person": 3.0, "car": 5.0, "bus": 3.5}
# Another kind also passes by now and then, so a frame can have a row and still be negative.
_DISTRACTOR = {"person": "car", "car": "person", "bus": "car"}
_PALETTES = {  # (sky/top, ground/bottom, brightness, sensor noise std) of each task's scene
    "coral": ((40, 120, 150), (30, 90, 110), 1.0, 3.0),
    "night": ((15, 15, 35), (45, 45, 50), 0.45, 5.0),
    "roundabout": ((150, 190, 220), (95, 95, 100), 1.0, 3.0),
    "taipei": ((170, 180, 190), (80, 80, 85), 0.9, 3.0),
}
_HORIZON = 0.42  # horizon height as a fraction of the frame height
_NEAREST, _FARTHEST = 1.0, 0.3  # depth range: on-screen scale at the bottom edge / far lane


@dataclasses.dataclass(frozen=True)
class SceneOptions:
  """Synthetic scene video knobs; the defaults give each split 3,000 frames and >= 50 objects."""

  frames_per_chunk: int = 3000  # video length = frames_per_chunk × the task's number of chunks
  objects_per_100_frames: float = 2.0  # arrivals of the task's object (exactly this many per chunk)
  distractors_per_100_frames: float = 0.5  # arrival rate of the other kind (Poisson)
  height: int = 120
  width: int = 160
  fps: int = 25

  def check(self) -> SceneOptions:
    if self.frames_per_chunk < 1 or self.height < 16 or self.width < 16 or self.fps < 1:
      raise DatasetError(f"scene options out of range: {self}")
    if self.objects_per_100_frames < 0 or self.distractors_per_100_frames < 0:
      raise DatasetError(f"scene object rates must be >= 0: {self}")
    return self


@dataclasses.dataclass(frozen=True, eq=False)  # identity: each track is one object
class Track:
  """One object's path through the view: enters at `first_frame`, one box per frame after.

  The path is a straight line on the ground plane: across the road (left or right), or
  diagonally towards or away from the camera; size and image speed follow the depth.
  """

  kind: str
  first_frame: int
  boxes: np.ndarray  # (frames, 4) float (left, top, right, bottom), one row per frame from first
  confidence: float
  appearance_seed: int  # draws its shape, colours and texture

  @property
  def last_frame(self) -> int:
    return self.first_frame + len(self.boxes) - 1

  @property
  def facing_right(self) -> bool:
    return bool(self.boxes[-1, 0] >= self.boxes[0, 0])

  def _on_screen(self, options: SceneOptions) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: whether at least a quarter of the object is in view, and its clipped box."""
    clipped = np.stack([np.maximum(self.boxes[:, 0], 0), np.maximum(self.boxes[:, 1], 0),
                        np.minimum(self.boxes[:, 2], options.width),
                        np.minimum(self.boxes[:, 3], options.height)], axis=1)
    area = (np.maximum(clipped[:, 2] - clipped[:, 0], 0)
            * np.maximum(clipped[:, 3] - clipped[:, 1], 0))
    full = (self.boxes[:, 2] - self.boxes[:, 0]) * (self.boxes[:, 3] - self.boxes[:, 1])
    pixels = np.round(clipped).astype(int)
    visible = ((area >= 0.25 * full) & (pixels[:, 0] < pixels[:, 2])
               & (pixels[:, 1] < pixels[:, 3]))
    return visible, pixels

  def labelled_frames(self, options: SceneOptions) -> np.ndarray:
    """The frames where the object gets a label row (at least a quarter of it in view)."""
    return self.first_frame + np.flatnonzero(self._on_screen(options)[0])

  def labelled(self, options: SceneOptions) -> list[tuple[int, tuple[int, ...]]]:
    """(frame, on-screen box) of each labelled frame."""
    visible, pixels = self._on_screen(options)
    return [(self.first_frame + int(index), tuple(int(value) for value in pixels[index]))
            for index in np.flatnonzero(visible)]


def _arrivals(rate: float, num_frames: int, chunk_size: int | None,
              rng: np.random.Generator) -> list[int]:
  """Arrival frames at `rate` per 100 frames.

  Without `chunk_size`: a Poisson process. With it: the same number of arrivals in every chunk,
  each at a uniformly random frame of its chunk (so objects still bunch up and overlap), so
  train, val and test (whole chunks) hold the same number of objects.
  """
  if rate <= 0:
    return []
  if not chunk_size:
    arrivals, frame = [], 0
    while (frame := frame + int(rng.exponential(100.0 / rate)) + 1) < num_frames:
      arrivals.append(frame)
    return arrivals
  per_chunk = max(1, int(np.floor(rate * chunk_size / 100 + 0.5)))
  return sorted(int(frame) for chunk_start in range(0, num_frames - chunk_size + 1, chunk_size)
                for frame in rng.integers(chunk_start, chunk_start + chunk_size, per_chunk))


def _path(kind: str, options: SceneOptions, rng: np.random.Generator) -> np.ndarray:
  """Boxes, frame by frame, from entering the view until it has left it."""
  from foldedcnn_jax.data.scene_objects import ASPECTS

  height, width, horizon = options.height, options.width, options.height * _HORIZON
  depth_to_y = lambda depth: horizon + depth * (height - horizon)  # noqa: E731
  aspect = rng.uniform(*ASPECTS[kind])
  size = _HEIGHTS[kind] * height * rng.uniform(0.8, 1.2)
  direction = rng.choice([-1.0, 1.0])
  speed = _SPEEDS[kind] * width / 100 * rng.uniform(0.6, 1.6)  # at depth 1, pixels per frame
  start_depth = rng.uniform(_FARTHEST, _NEAREST)
  # Across the road mostly; some paths drift towards or away from the camera.
  end_depth = start_depth if rng.random() < 0.5 else rng.uniform(_FARTHEST, _NEAREST + 0.3)
  start_x = -aspect * size * start_depth if direction > 0 else width
  frames = int(np.ceil(2 * (width + aspect * size * 1.3) / (speed * 0.5 * (1 + _FARTHEST)))) + 1
  elapsed = np.arange(frames, dtype=np.float64)
  depth = np.clip(start_depth + (end_depth - start_depth) * elapsed * speed / width,
                  _FARTHEST, _NEAREST + 0.3)
  step = speed * (0.5 + 0.5 * depth)  # nearer objects move faster on screen
  left = start_x + direction * (np.cumsum(step) - step[0])
  box_height = size * depth
  bottom = depth_to_y(depth) + (0.25 if kind == "person" else 0.1) * box_height
  boxes = np.stack([left, bottom - box_height, left + aspect * box_height, bottom], axis=1)
  gone = (boxes[:, 2] <= 0) | (boxes[:, 0] >= width) | (boxes[:, 1] >= height)
  entered = np.flatnonzero(~gone)
  last = entered[-1] if len(entered) else 0
  after = np.flatnonzero(gone[entered[0]:]) if len(entered) else []
  if len(after):
    last = entered[0] + after[0] - 1
  return boxes[:last + 1]


def scene_tracks(task: Task, options: SceneOptions | None = None,
                 seed: int = 0) -> list[Track]:
  """Every object of the task's scene video: the schedule the renderer draws and labels."""
  options = (options or SceneOptions()).check()
  source = task.noscope
  num_frames = options.frames_per_chunk * source.num_chunks
  rng = np.random.default_rng([seed, sum(map(ord, task.id)), 3])
  kinds = [(source.object_name, frame) for frame in _arrivals(
      options.objects_per_100_frames, num_frames, options.frames_per_chunk, rng)]
  kinds += [(_DISTRACTOR[source.object_name], frame) for frame in _arrivals(
      options.distractors_per_100_frames, num_frames, None, rng)]
  tracks = []
  for kind, frame in kinds:
    boxes = _path(kind, options, rng)[:num_frames - frame]
    tracks.append(Track(kind, frame, boxes, float(rng.uniform(0.5, 1.0)),
                        int(rng.integers(2**31))))
  return sorted(tracks, key=lambda track: track.first_frame)


def _background(scene: str, options: SceneOptions, rng: np.random.Generator) -> np.ndarray:
  """The static scene: sky/ground gradient, a few buildings or rocks, lane markings."""
  top, bottom, _, _ = _PALETTES.get(scene, _PALETTES["roundabout"])
  rows = np.linspace(0, 1, options.height, dtype=np.float32)[:, None, None]
  image = (np.array(top, np.float32) * (1 - rows) + np.array(bottom, np.float32) * rows)
  image = np.broadcast_to(image, (options.height, options.width, 3)).copy()
  horizon = int(options.height * _HORIZON)
  for _ in range(int(rng.integers(4, 9))):  # buildings / rocks along the horizon
    block_w = int(rng.integers(options.width // 12, options.width // 4))
    block_h = int(rng.integers(options.height // 10, options.height // 3))
    left = int(rng.integers(0, options.width - block_w))
    shade = rng.uniform(0.5, 1.3) * np.array(bottom, np.float32)
    image[max(0, horizon - block_h):horizon, left:left + block_w] = shade
  for depth in (0.35, 0.7):  # dashed lane markings, denser towards the horizon
    lane = int(horizon + depth * (options.height - horizon))
    image[lane:lane + max(1, int(2 * depth)), ::max(4, int(12 * depth))] = 200
  texture = rng.normal(0, 6, size=image.shape[:2])[..., None]
  return np.clip(image + texture, 0, 255).astype(np.uint8)


def _lighting(num_frames: int, rng: np.random.Generator) -> np.ndarray:
  """(frames, 3) per-channel gain: a slow sinusoid, a random walk (clouds) and a colour cast."""
  frames = np.arange(num_frames)
  period = rng.uniform(0.3, 1.0) * num_frames
  drift = 0.15 * np.sin(2 * np.pi * frames / period + rng.uniform(0, 2 * np.pi))
  walk = np.cumsum(rng.normal(0, 0.004, num_frames))
  walk = np.convolve(walk - walk.mean(), np.ones(101) / 101, mode="same")
  tint = 0.05 * np.sin(2 * np.pi * frames[:, None] / (period * rng.uniform(0.5, 2))
                       + rng.uniform(0, 2 * np.pi, 3))
  return np.clip(1.0 + drift[:, None] + np.clip(walk, -0.2, 0.2)[:, None] + tint, 0.5, 1.5)


def _paste(image: np.ndarray, sprite: np.ndarray, mask: np.ndarray, box) -> None:
  """Draws a sprite resized to `box` (clipped to the frame) where its mask is set."""
  import cv2

  left, top, right, bottom = (int(round(value)) for value in box)
  width, height = max(2, right - left), max(2, bottom - top)
  frame_h, frame_w = image.shape[:2]
  x0, y0, x1, y1 = max(left, 0), max(top, 0), min(left + width, frame_w), min(top + height, frame_h)
  if x0 >= x1 or y0 >= y1:
    return
  resized = cv2.resize(sprite, (width, height), interpolation=cv2.INTER_AREA)
  keep = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
  crop = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
  np.copyto(image[y0:y1, x0:x1], resized[crop], where=keep[crop][..., None])


def _headlights(image: np.ndarray, box, facing_right: bool) -> None:
  """Head lamps and their beam on the road ahead, tail lamps behind (night scene)."""
  import cv2

  left, top, right, bottom = box
  height = bottom - top
  lamp_y = int(bottom - 0.35 * height)
  radius = max(1, int(0.08 * height))
  front, back = (right, left) if facing_right else (left, right)
  reach = (1 if facing_right else -1) * 1.5 * height
  beam = np.array([(front, lamp_y), (front + reach, bottom - 0.1 * height),
                   (front + reach, bottom + 0.15 * height)], np.int32)
  glow = image.copy()
  cv2.fillPoly(glow, [beam], (200, 200, 170))
  cv2.addWeighted(glow, 0.35, image, 0.65, 0, dst=image)
  cv2.circle(image, (int(front), lamp_y), radius + 1, (255, 255, 230), -1)
  cv2.circle(image, (int(back), lamp_y), radius, (0, 0, 220), -1)  # BGR: red


def _sprites_for(track: Track) -> list[tuple[np.ndarray, np.ndarray]]:
  from foldedcnn_jax.data.scene_objects import make_sprites

  poses = make_sprites(track.kind, np.random.default_rng(track.appearance_seed))
  if not track.facing_right:
    poses = [(image[:, ::-1], mask[:, ::-1]) for image, mask in poses]
  return [(np.ascontiguousarray(image[..., ::-1]), np.ascontiguousarray(mask))  # RGB → BGR
          for image, mask in poses]


def write_scene_video(task: Task, video_path: str, labels_csv: str, *, seed: int = 0,
                      options: SceneOptions | None = None, progress: bool = True) -> int:
  """Writes the synthetic scene mp4 and its NoScope label CSV; returns the number of frames."""
  from tqdm import tqdm

  from foldedcnn_jax.data.noscope import import_cv2
  from foldedcnn_jax.data.scene_objects import foreground

  cv2 = import_cv2()

  options = (options or SceneOptions()).check()
  num_frames = options.frames_per_chunk * task.noscope.num_chunks
  tracks = scene_tracks(task, options, seed)
  rng = np.random.default_rng([seed, sum(map(ord, task.id)), 4])
  scene, night = task.name, task.name == "night"
  background = _background(scene, options, rng)[..., ::-1].copy()  # BGR, as OpenCV writes
  front_image, front_mask = foreground(scene, options.height, options.width, rng)
  front_image = np.ascontiguousarray(front_image[..., ::-1])
  _, _, brightness, noise_std = _PALETTES.get(scene, _PALETTES["roundabout"])
  gains = brightness * _lighting(num_frames, rng)[:, ::-1]
  noise_bank = rng.normal(0, noise_std, (64, options.height, options.width, 3))
  noise_up = np.clip(noise_bank, 0, 255).astype(np.uint8)
  noise_down = np.clip(-noise_bank, 0, 255).astype(np.uint8)
  levels = np.arange(256, dtype=np.float32)[:, None]
  sprites, active, next_track = {}, [], 0
  with atomic_path(video_path) as video_tmp, atomic_path(labels_csv) as csv_tmp:
    writer = cv2.VideoWriter(video_tmp, cv2.VideoWriter_fourcc(*"mp4v"), options.fps,
                             (options.width, options.height))
    if not writer.isOpened():
      raise DatasetError(f"OpenCV cannot write mp4 video {video_path!r} (no mp4v encoder?)")
    with open(csv_tmp, "w", newline="") as handle:
      rows = csv.writer(handle)
      rows.writerow(CSV_COLUMNS)
      labels = sorted((frame, track.kind, f"{track.confidence:.3f}", *box)
                      for track in tracks for frame, box in track.labelled(options))
      rows.writerows(labels)
      for frame in tqdm(range(num_frames), desc=f"{task.id} scene video", unit="frame",
                        disable=not progress, leave=False):
        while next_track < len(tracks) and tracks[next_track].first_frame <= frame:
          active.append(tracks[next_track])
          sprites[id(tracks[next_track])] = _sprites_for(tracks[next_track])
          next_track += 1
        for track in [track for track in active if track.last_frame < frame]:
          del sprites[id(track)]
        active = [track for track in active if track.last_frame >= frame]
        image = background.copy()
        boxes = [(track, track.boxes[frame - track.first_frame]) for track in active]
        boxes.sort(key=lambda item: item[1][3])  # far (higher up) first: near ones occlude them
        for track, box in boxes:
          poses = sprites[id(track)]
          sprite, mask = poses[(frame // 6) % len(poses)]  # people alternate walking poses
          _paste(image, sprite, mask, box)
        np.copyto(image, front_image, where=front_mask[..., None])
        lut = np.clip(levels * gains[frame][None, :], 0, 255).astype(np.uint8)
        image = cv2.LUT(image, lut.reshape(256, 1, 3))
        if night:  # cars carry their own light: the main cue in the dark
          for track, box in boxes:
            if track.kind == "car":
              _headlights(image, box, track.facing_right)
        pick = int(rng.integers(len(noise_bank)))
        image = cv2.subtract(cv2.add(image, noise_up[pick]), noise_down[pick])
        writer.write(image)
    writer.release()
  return num_frames


def scene_files(task: Task, directory: str, *, seed: int = 0,
                options: SceneOptions | None = None) -> tuple[str, str]:
  """Where `ensure_scene_video` keeps the (video, labels CSV) of this scene: the name says
  everything that shapes it, so a different scene never reuses a file."""
  options = options or SceneOptions()
  stem = (f"{task.id}-{task.name}_v3_seed-{seed}_frames-{options.frames_per_chunk}"
          f"_rate-{options.objects_per_100_frames:g}-{options.distractors_per_100_frames:g}"
          f"_{options.width}x{options.height}_fps-{options.fps}")
  return os.path.join(directory, f"{stem}.mp4"), os.path.join(directory, f"{stem}.csv")


def ensure_scene_video(task: Task, directory: str, *, seed: int = 0,
                       options: SceneOptions | None = None,
                       progress: bool = True) -> tuple[str, str]:
  """The (video, labels CSV) paths of the task's synthetic scene, writing them once."""
  options = (options or SceneOptions()).check()
  video, labels_csv = scene_files(task, directory, seed=seed, options=options)
  if not (os.path.isfile(video) and os.path.isfile(labels_csv)):
    ensure_writable_dir(directory)
    write_scene_video(task, video, labels_csv, seed=seed, options=options, progress=progress)
  return video, labels_csv
