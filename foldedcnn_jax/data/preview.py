"""A contact sheet PNG: a few samples per class, so a person can eyeball a dataset."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from foldedcnn_jax.files import atomic_path
from foldedcnn_jax.tasks import Task

_ZOOM_TARGET = 72  # pixels of the shorter image side on the sheet
_GAP = 4


def _spread(members: np.ndarray, count: int) -> np.ndarray:
  """Up to `count` evenly spaced members (video frames are in time order: not the first few)."""
  if len(members) <= count:
    return members
  return members[np.linspace(0, len(members) - 1, count).astype(int)]


def contact_sheet(task: Task, images: np.ndarray, labels: np.ndarray, per_class: int = 8,
                  columns_of_classes: int | None = None) -> Image.Image:
  """One row per class (name on the left) with up to `per_class` of its images, zoomed."""
  height, width = task.input_hw
  zoom = max(1, _ZOOM_TARGET // min(height, width))
  cell_h, cell_w = height * zoom + _GAP, width * zoom + _GAP
  font = ImageFont.load_default()
  label_w = 8 + max(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(name, font=font)
                    for name in task.class_names)
  label_w = int(label_w)
  block_w = label_w + per_class * cell_w + 2 * _GAP
  blocks = columns_of_classes or max(1, int(np.ceil(task.num_classes / 24)))
  rows = int(np.ceil(task.num_classes / blocks))
  sheet = Image.new("RGB", (blocks * block_w, rows * cell_h + _GAP), (255, 255, 255))
  draw = ImageDraw.Draw(sheet)
  for class_index, name in enumerate(task.class_names):
    block, row = divmod(class_index, rows)
    left, top = block * block_w, _GAP + row * cell_h
    draw.text((left + 4, top + cell_h // 2 - 6), name, fill=(0, 0, 0), font=font)
    samples = _spread(np.flatnonzero(labels == class_index), per_class)
    for column, index in enumerate(samples):
      tile = Image.fromarray(images[index]).resize((width * zoom, height * zoom), Image.NEAREST)
      sheet.paste(tile, (left + label_w + column * cell_w, top))
  return sheet


def write_contact_sheet(task: Task, images: np.ndarray, labels: np.ndarray, path: str,
                        per_class: int = 8) -> str:
  """Writes the contact sheet PNG to `path` (atomically) and returns the path."""
  with atomic_path(path) as temporary:
    contact_sheet(task, images, labels, per_class).save(temporary, format="PNG")
  return path
