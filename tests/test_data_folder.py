"""The authors' published layout, <root>/<task>/{train,val,test}/<class>/*.png, as a dataset."""

import numpy as np
import pytest
from PIL import Image

from foldedcnn_jax import data
from foldedcnn_jax.data.common import DatasetError

COUNTS = {"train": 3, "val": 2, "test": 1}  # images per class in the fake release


def _write_release(root, classes=("0", "7", "20", "other"), size=(25, 19)):
  for split, count in COUNTS.items():
    for label in classes:
      directory = root / "v2" / split / label
      directory.mkdir(parents=True)
      for index in range(count):
        value = (int(label) * 12 if label.isdigit() else 250) + index
        Image.new("RGB", size, (value, 0, 0)).save(directory / f"{index}.png")


def test_image_folder_reads_labels_from_class_folders(tmp_path):
  _write_release(tmp_path / "release")
  source = data.Source(str(tmp_path / "data"), image_folder=str(tmp_path / "release"))
  for split, count in COUNTS.items():
    images, labels = data.load_split("v2", split, source, progress=False)
    assert images.shape == (4 * count, 19, 25, 3)
    # v2's classes are 0..20 then "other" (index 21); the red channel encodes the folder.
    expected = {0: 0, 7: 84, 20: 240, 21: 250}
    for image, label in zip(images, labels, strict=True):
      assert image[0, 0, 0] - expected[int(label)] in range(count)
    assert sorted(set(labels.tolist())) == [0, 7, 20, 21]


def test_other_sizes_are_resized_to_the_task_input(tmp_path):
  _write_release(tmp_path / "release", classes=("3",), size=(50, 38))
  images, _ = data.load_split("v2", "train", data.Source(str(tmp_path / "data"),
                                          image_folder=str(tmp_path / "release")),
                              progress=False)
  assert images.shape == (3, 19, 25, 3)
  assert sorted(int(image[0, 0, 0]) for image in images) == [36, 37, 38]
  assert all(np.all(image == image[0, 0]) for image in images)  # a resized solid image


def test_unknown_class_folder_is_a_clear_error(tmp_path):
  _write_release(tmp_path / "release", classes=("3", "banana"))
  with pytest.raises(DatasetError, match=r"class folders \['banana'\]"):
    data.prepare_dataset("v2", data.Source(str(tmp_path / "data"),
                                     image_folder=str(tmp_path / "release")), progress=False)


def test_missing_task_folder_is_a_clear_error(tmp_path):
  with pytest.raises(DatasetError, match="has no v2/ directory"):
    data.prepare_dataset("v2", data.Source(str(tmp_path / "data"), image_folder=str(tmp_path)),
                         progress=False)
