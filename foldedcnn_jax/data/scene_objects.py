"""Sprites of the synthetic scene's objects (person, car, bus) and static foreground occluders.

Each object is drawn once, at a reference height, with its own shape variant, colours and
texture; the scene renderer resizes it along its path (perspective) and pastes it by its mask.
"""

from __future__ import annotations

import numpy as np

SPRITE_HEIGHT = 64  # reference height in pixels; sprites are resized to their on-screen size
# Per kind: aspect (width / height) range of the object seen from the side.
ASPECTS = {"person": (0.3, 0.45), "car": (1.5, 2.3), "bus": (2.3, 3.2)}


def _colour(rng: np.random.Generator, saturation=(0.2, 1.0), value=(0.25, 1.0)) -> np.ndarray:
  """A random RGB colour from random hue, saturation and value."""
  import cv2

  hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255,
                    rng.uniform(*value) * 255]]], np.uint8)
  return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _texture(rng: np.random.Generator, shape: tuple[int, int], base: np.ndarray) -> np.ndarray:
  """The body's paint: plain, two-tone, stripes, a vertical gradient, or speckle."""
  height, width = shape
  paint = np.broadcast_to(base, (height, width, 3)).astype(np.float32).copy()
  style = rng.integers(5)
  if style == 1:  # two-tone: lower part in a second colour
    paint[int(height * rng.uniform(0.4, 0.7)):] = _colour(rng)
  elif style == 2:  # stripes, horizontal or vertical
    period = int(rng.integers(4, 12))
    band = (np.arange(height) // period % 2 == 1)[:, None] if rng.random() < 0.5 else \
        (np.arange(width) // period % 2 == 1)[None, :]
    paint[np.broadcast_to(band, (height, width))] *= rng.uniform(0.45, 0.75)
  elif style == 3:
    paint *= np.linspace(rng.uniform(1.0, 1.3), rng.uniform(0.5, 0.8), height)[:, None, None]
  elif style == 4:
    paint += rng.normal(0, rng.uniform(10, 30), size=(height, width, 1))
  return paint


def _person(rng: np.random.Generator, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
  """Two walking poses of one person (head, torso, arms, legs)."""
  import cv2

  height = SPRITE_HEIGHT
  skin = np.array((rng.uniform(90, 240), rng.uniform(60, 190), rng.uniform(40, 160)), np.float32)
  torso = _texture(rng, (height, width), _colour(rng))
  trousers = _colour(rng, value=(0.1, 0.7))
  head = max(3, int(width * rng.uniform(0.28, 0.38)))
  hip = int(height * rng.uniform(0.5, 0.58))
  poses = []
  for stride in (0, 1):
    image = np.zeros((height, width, 3), np.float32)
    mask = np.zeros((height, width), np.uint8)
    centre = width // 2
    cv2.circle(mask, (centre, head), head, 1, -1)
    image[mask == 1] = skin
    body = np.zeros_like(mask)
    cv2.rectangle(body, (centre - width // 3, 2 * head), (centre + width // 3, hip), 1, -1)
    image[body == 1] = torso[body == 1]
    legs = np.zeros_like(mask)
    spread = width // 3 if stride else width // 8
    thickness = max(2, width // 5)
    for foot in (centre - spread, centre + spread):
      cv2.line(legs, (centre, hip), (foot, height - 2), 1, thickness)
    image[legs == 1] = trousers
    mask |= body | legs
    poses.append((image, mask))
  return poses


def _vehicle(rng: np.random.Generator, kind: str,
             width: int) -> list[tuple[np.ndarray, np.ndarray]]:
  """One car (sedan / hatchback / van / pick-up) or bus, seen from the side, facing right."""
  import cv2

  height = SPRITE_HEIGHT
  paint = _texture(rng, (height, width), _colour(rng))
  glass = np.array((rng.uniform(40, 120), rng.uniform(60, 140), rng.uniform(90, 190)), np.float32)
  mask = np.zeros((height, width), np.uint8)
  wheel = int(height * rng.uniform(0.13, 0.18))
  bottom = height - wheel
  if kind == "bus":
    roof = int(height * rng.uniform(0.0, 0.08))
    cv2.rectangle(mask, (0, roof), (width - 1, bottom), 1, -1)
    windows = np.zeros_like(mask)
    pane = max(5, int(width * rng.uniform(0.06, 0.1)))
    for left in range(int(width * 0.12), width - pane - 2, pane + 3):
      cv2.rectangle(windows, (left, roof + 4), (left + pane, int(height * 0.45)), 1, -1)
    cv2.rectangle(windows, (width - pane - 2, roof + 4), (width - 2, int(height * 0.6)), 1, -1)
  else:
    waist = int(height * rng.uniform(0.4, 0.55))
    cv2.rectangle(mask, (0, waist), (width - 1, bottom), 1, -1)
    variant = rng.integers(4)  # sedan, hatchback, van, pick-up
    front, rear = [(0.25, 0.7), (0.1, 0.7), (0.02, 0.8), (0.55, 0.8)][variant]
    roof = int(height * (0.05 if variant == 2 else rng.uniform(0.1, 0.22)))
    cabin = np.array([(int(width * rear * 0.3 * (variant != 2)), waist),
                      (int(width * front * 0.8), roof), (int(width * rear), roof),
                      (int(width * min(0.95, rear + 0.12)), waist)], np.int32)
    if variant == 3:  # pick-up: cabin at the front, open bed behind
      cabin = np.array([(int(width * 0.55), waist), (int(width * 0.6), roof),
                        (int(width * 0.85), roof), (int(width * 0.97), waist)], np.int32)
    cv2.fillPoly(mask, [cabin], 1)
    windows = np.zeros_like(mask)
    inner = ((cabin - cabin.mean(axis=0)) * 0.75 + cabin.mean(axis=0)).astype(np.int32)
    cv2.fillPoly(windows, [inner], 1)
  image = paint.copy()
  image[windows == 1] = glass
  for centre in (int(width * rng.uniform(0.14, 0.22)), int(width * rng.uniform(0.78, 0.86))):
    cv2.circle(mask, (centre, bottom), wheel, 1, -1)
    cv2.circle(image, (centre, bottom), wheel, (20, 20, 20), -1)
    cv2.circle(image, (centre, bottom), max(1, wheel // 2), (120, 120, 120), -1)
  return [(image, mask)]


def make_sprites(kind: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
  """(RGB float image, 0/1 mask) poses of one new object of `kind`, facing right."""
  width = max(6, int(SPRITE_HEIGHT * rng.uniform(*ASPECTS[kind])))
  poses = _person(rng, width) if kind == "person" else _vehicle(rng, kind, width)
  return [(np.clip(image, 0, 255).astype(np.uint8), mask) for image, mask in poses]


def foreground(scene: str, height: int, width: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """Static occluders in front of the road (posts, signs, bushes, kelp): image and mask."""
  import cv2

  image = np.zeros((height, width, 3), np.uint8)
  mask = np.zeros((height, width), np.uint8)
  for _ in range(int(rng.integers(1, 4))):
    x = int(rng.integers(0, width))
    colour = tuple(int(c) for c in _colour(rng, saturation=(0.0, 0.5), value=(0.15, 0.6)))
    if scene == "coral" or rng.random() < 0.4:  # a bush / rock / kelp clump at the bottom
      radius = int(height * rng.uniform(0.08, 0.16))
      for _ in range(4):
        centre = (x + int(rng.integers(-radius, radius + 1)),
                  height - int(rng.integers(0, radius + 1)))
        cv2.circle(image, centre, radius, colour, -1)
        cv2.circle(mask, centre, radius, 1, -1)
    else:  # a post with a sign or lamp on top
      post = max(2, width // 60)
      top = int(height * rng.uniform(0.25, 0.5))
      cv2.rectangle(image, (x, top), (x + post, height), colour, -1)
      cv2.rectangle(mask, (x, top), (x + post, height), 1, -1)
      sign = int(height * rng.uniform(0.05, 0.1))
      sign_colour = tuple(int(c) for c in _colour(rng))
      cv2.rectangle(image, (x - sign, top), (x + sign + post, top + sign), sign_colour, -1)
      cv2.rectangle(mask, (x - sign, top), (x + sign + post, top + sign), 1, -1)
  return image, mask.astype(bool)
