"""Synthetic game-scraping images (v1..v6): a template string per class, rendered with Pillow.

As in the paper's appendix, an instance of the task's text template is drawn for a class and
rendered with a font, location and background chosen at random from prespecified options, so a
model learns to read the text regardless of its position, font and background. Class "other"
is background only.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import io
import os
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from foldedcnn_jax.tasks import Task

_GLYPHS = "0123456789.,:k"
# Matplotlib's bundled fonts that cover the glyphs (the STIX size/non-unicode variants and the
# TeX math fonts do not map digits normally); identical on every machine with the same wheel.
_MATPLOTLIB_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmss10.ttf", "cmtt10.ttf",
)
_SYSTEM_FONT_GLOBS = ("/usr/share/fonts/**/*.ttf", "/usr/local/share/fonts/**/*.ttf")
_BACKGROUNDS = ("solid", "gradient", "noise", "stripes")


# ---- templates: text per class, and the inverse used to check labels ----------------------

def template_text(task: Task, class_index: int, rng: np.random.Generator) -> str:
  """An instance of the task's text template for class `class_index` ("" for "other")."""
  name = task.class_names[class_index]
  if name == "other":
    return ""
  if task.id == "v1":  # "XY.Zk", label Z
    return f"{rng.integers(1, 100)}.{name}k"
  if task.id == "v5":  # same text, label = the integer part as shown ("7", "14", "07")
    return f"{name}.{rng.integers(0, 10)}k"
  if task.id in ("v2", "v4"):  # squad members / minutes remaining
    return name
  if task.id == "v3":  # coin count "10,438" → 10 (thousands)
    return f"{int(name) * 1000 + int(rng.integers(0, 1000)):,}"
  if task.id == "v6":  # "30:54" → minutes 30
    return f"{name}:{rng.integers(0, 60):02d}"
  raise ValueError(f"task {task.id!r} has no text template")


_PARSERS = {
    "v1": (re.compile(r"\d{1,2}\.(\d)k"), lambda m: m.group(1)),
    "v5": (re.compile(r"(\d{1,2})\.\dk"), lambda m: m.group(1)),
    "v2": (re.compile(r"(\d+)"), lambda m: m.group(1)),
    "v4": (re.compile(r"(\d+)"), lambda m: m.group(1)),
    "v3": (re.compile(r"(\d{1,3}(?:,\d{3})*)"),
           lambda m: str(int(m.group(1).replace(",", "")) // 1000)),
    "v6": (re.compile(r"(\d{2}):\d{2}"), lambda m: m.group(1)),
}


def label_of_text(task: Task, text: str) -> int:
  """The class a person reading `text` would assign (the inverse of `template_text`)."""
  if not text:
    return task.class_names.index("other")
  pattern, extract = _PARSERS[task.id]
  match = pattern.fullmatch(text)
  if match is None:
    raise ValueError(f"{text!r} does not follow the {task.id} template")
  return task.class_names.index(extract(match))


# ---- fonts ---------------------------------------------------------------------------------

def _covers_glyphs(path: str) -> bool:
  from fontTools.ttLib import TTFont  # ships with matplotlib

  try:
    with TTFont(path, lazy=True, fontNumber=0) as font:
      cmap = font.getBestCmap() or {}
  except Exception:  # noqa: BLE001 - an unreadable font file is simply not used
    return False
  return all(ord(char) in cmap for char in _GLYPHS)


@functools.cache
def font_paths() -> tuple[str, ...]:
  """The TrueType files text is drawn with: matplotlib's fonts, then system fonts if present."""
  import matplotlib

  bundled = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
  paths = [os.path.join(bundled, name) for name in _MATPLOTLIB_FONTS]
  names = set(_MATPLOTLIB_FONTS)
  for pattern in _SYSTEM_FONT_GLOBS:
    for path in sorted(glob.glob(pattern, recursive=True)):
      if os.path.basename(path) not in names and _covers_glyphs(path):
        names.add(os.path.basename(path))
        paths.append(path)
  return tuple(paths)


def fonts_fingerprint() -> str:
  """A short hash of the font set, so data rendered with other fonts never collides on disk."""
  digest = hashlib.sha1()
  for path in font_paths():
    digest.update(f"{os.path.basename(path)}:{os.path.getsize(path)};".encode())
  return digest.hexdigest()[:8]


@functools.lru_cache(maxsize=4096)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
  return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=65536)
def _fitting_size(path: str, size: int, text: str, height: int, width: int, stroke: int) -> int:
  """The largest size ≤ `size` at which `text` (outlined by `stroke` px) fits (height, width)."""
  while size > 6:
    left, top, right, bottom = _font(path, size).getbbox(text, stroke_width=stroke)
    if right - left <= width - 1 and bottom - top <= height - 1:
      break
    size -= 1
  return size


# ---- backgrounds ---------------------------------------------------------------------------

def _random_colour(rng: np.random.Generator) -> np.ndarray:
  return rng.uniform(0, 255, size=3).astype(np.float32)


def background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
  """A float32 (H, W, 3) background: solid, gradient, smooth noise texture or stripes."""
  kind = _BACKGROUNDS[rng.integers(len(_BACKGROUNDS))]
  first, second = _random_colour(rng), _random_colour(rng)
  rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
  if kind == "solid":
    return np.broadcast_to(first, (height, width, 3)).copy()
  if kind == "gradient":
    angle = rng.uniform(0, 2 * np.pi)
    ramp = rows * np.sin(angle) + cols * np.cos(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
  elif kind == "noise":  # value noise: a coarse random grid, bilinearly upsampled
    cells = int(rng.integers(2, 7))
    coarse = rng.uniform(0, 1, size=(cells, cells)).astype(np.float32)
    small = Image.fromarray((coarse * 255).astype(np.uint8))
    ramp = np.asarray(small.resize((width, height), Image.BILINEAR), np.float32) / 255
  else:  # stripes at a random angle and period
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(3, max(4.0, width / 2))
    phase = rng.uniform(0, 2 * np.pi)
    ramp = 0.5 + 0.5 * np.sin(2 * np.pi * (rows * np.sin(angle) + cols * np.cos(angle)) / period
                              + phase)
    ramp *= rng.uniform(0.3, 1.0)  # stripes are a texture, not a second text-like foreground
  return first + ramp[..., None] * (second - first)


def _luminance(colour: np.ndarray) -> float:
  return float(colour @ np.array([0.299, 0.587, 0.114], np.float32))


def _text_colour(background_luminance: float, rng: np.random.Generator) -> np.ndarray:
  """A random colour whose luminance is at least ~90/255 away from the background's."""
  darker = (0.0, background_luminance - 90)
  lighter = (background_luminance + 90, 255.0)
  sides = [side for side in (darker, lighter) if side[1] >= side[0]]
  low, high = sides[rng.integers(len(sides))]
  target = rng.uniform(low, high)
  colour = _random_colour(rng)
  # Shift all channels towards the target luminance, then fall back to grey where clipped.
  colour = np.clip(colour + (target - _luminance(colour)), 0, 255)
  if abs(_luminance(colour) - background_luminance) < 90:
    colour = np.full(3, target, np.float32)
  return colour


# ---- one image -----------------------------------------------------------------------------

def render_text_image(height: int, width: int, text: str, rng: np.random.Generator) -> np.ndarray:
  """(H, W, 3) uint8: `text` drawn at a random font/size/place/colour on a random background."""
  image = background(height, width, rng)
  if text:
    paths = font_paths()
    path = paths[rng.integers(len(paths))]
    wanted = int(rng.integers(round(0.65 * height), round(1.2 * height) + 1))
    stroke = int(rng.uniform() < 0.3)  # game UIs often outline text in a contrasting colour
    font = _font(path, _fitting_size(path, wanted, text, height, width, stroke))
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    x = int(rng.integers(0, width - (right - left) + 1)) - left
    y = int(rng.integers(0, height - (bottom - top) + 1)) - top
    box = (slice(max(y + top, 0), y + bottom), slice(max(x + left, 0), x + right))
    colour = _text_colour(_luminance(image[box].reshape(-1, 3).mean(0)), rng)
    layers = [(stroke, 255.0 - colour), (0, colour)] if stroke else [(0, colour)]
    for stroke_width, fill in layers:
      mask = Image.new("L", (width, height), 0)
      ImageDraw.Draw(mask).text((x, y), text, fill=255, font=font, stroke_width=stroke_width)
      alpha = np.asarray(mask, np.float32)[..., None] / 255
      image = image * (1 - alpha) + fill * alpha
  image = image + rng.normal(0, rng.uniform(0, 5), size=image.shape)
  image = np.clip(image, 0, 255).astype(np.uint8)
  effect = rng.uniform()
  if effect < 0.15:
    blurred = Image.fromarray(image).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    image = np.asarray(blurred)
  elif effect < 0.3:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(rng.integers(35, 90)))
    image = np.asarray(Image.open(buffer).convert("RGB"))
  return image


def render_image(task: Task, class_index: int, rng: np.random.Generator) -> np.ndarray:
  """One (H, W, 3) uint8 image of class `class_index` of game task `task`."""
  height, width = task.input_hw
  return render_text_image(height, width, template_text(task, class_index, rng), rng)
