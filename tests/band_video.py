"""A test video whose frames tell their own index: frame i shows i in binary as BITS
black/white bands, 10 pixels wide each, on a 64×48 frame, so a decoded (resized) frame can be
read back to the frame it came from."""

import cv2
import numpy as np

BITS = 6
WIDTH, HEIGHT = 64, 48


def write(path, num_frames: int, fourcc: str = "mp4v") -> str:
  """Writes frames 0..num_frames-1 to `path` with the codec `fourcc`; returns the path."""
  writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25, (WIDTH, HEIGHT))
  for frame in range(num_frames):
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    for bit in range(BITS):
      if frame >> bit & 1:
        image[:, bit * 10:bit * 10 + 10] = 255
    writer.write(image)
  writer.release()
  return str(path)


def index_of(image: np.ndarray) -> int:
  """The frame index drawn by `write`, read back from a frame resized to any width."""
  columns = [int((bit * 10 + 5) * image.shape[1] / WIDTH) for bit in range(BITS)]
  return sum(int(image[:, column].mean() > 127) << bit for bit, column in enumerate(columns))
