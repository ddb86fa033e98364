r"""Builds a task's dataset (TFDS array_record) once; optionally writes a contact sheet PNG.

  python -m experiments.make_dataset --task=v1 --scale=0.1 [--eval_scale=1] [--preview]
  python -m experiments.make_dataset --task=n2              # embedded synthetic scene video
  python -m experiments.make_dataset --task=n2 --video=night-street.mp4 \
      --labels_csv=night-street.csv                       # a real NoScope video
  python -m experiments.make_dataset --task=v1 --image_folder=/path/to/authors/data

Prints the dataset directory and the examples per split (and per class).
"""

import dataclasses

from absl import flags, logging

from foldedcnn_jax import cli, data
from foldedcnn_jax.data.scene_video import SceneOptions
from foldedcnn_jax.tasks import get_task

_TASK = flags.DEFINE_string("task", None, "Task id (v1..v6, n1..n4, tiny).", required=True)
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Root of all datasets ($FOLDEDCNN_DATA_DIR "
                                "or ./data by default).")
_SCALE = flags.DEFINE_float("scale", 1.0, "Fraction of the paper's train split (game/tiny) or "
                            "train frame rate (NoScope: keeps every round(1/scale)-th frame).")
_EVAL_SCALE = flags.DEFINE_float("eval_scale", 1.0, "The same for val and test (1 = the paper's "
                                 "sizes).")
_SEED = flags.DEFINE_integer("seed", 0, "Generation seed (synthetic images and scene video).")
_VIDEO = flags.DEFINE_string("video", None, "NoScope video (mp4); needs --labels_csv.")
_LABELS_CSV = flags.DEFINE_string("labels_csv", None, "NoScope label CSV "
                                  "(frame,object_name,confidence,xmin,ymin,xmax,ymax).")
_IMAGE_FOLDER = flags.DEFINE_string("image_folder", None, "The authors' released images: "
                                    "<root>/<task>/{train,val,test}/<class>/*.png.")
_FRAMES_PER_CHUNK = flags.DEFINE_integer("scene_frames_per_chunk", SceneOptions.frames_per_chunk,
                                         "Synthetic scene video: frames per chunk.")
_OBJECT_RATE = flags.DEFINE_float("scene_objects_per_100_frames",
                                  SceneOptions.objects_per_100_frames,
                                  "Synthetic scene video: arrivals of the task's object.")
_PREVIEW = flags.DEFINE_bool("preview", False, "Also write a contact sheet PNG of samples.")
_PREVIEW_SPLIT = flags.DEFINE_enum("preview_split", "train", list(data.SPLITS),
                                   "Split shown on the contact sheet.")
_PROGRESS = flags.DEFINE_bool("progress", True, "Show progress bars.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)  # TFDS's per-file INFO lines; progress bars remain
  task = get_task(_TASK.value)
  source = data.Source(_DATA_DIR.value, scale=_SCALE.value, eval_scale=_EVAL_SCALE.value,
                       seed=_SEED.value, video=_VIDEO.value, labels_csv=_LABELS_CSV.value,
                       image_folder=_IMAGE_FOLDER.value)
  if task.family == "noscope" and _VIDEO.value is None and _LABELS_CSV.value is None:
    scene = SceneOptions(frames_per_chunk=_FRAMES_PER_CHUNK.value,
                         objects_per_100_frames=_OBJECT_RATE.value)
    video, labels_csv = data.scene_video_paths(task.id, _DATA_DIR.value, seed=_SEED.value,
                                               scene=scene, progress=_PROGRESS.value)
    print(f"synthetic scene video: {video}\n                labels: {labels_csv}")
    source = dataclasses.replace(source, video=video, labels_csv=labels_csv)
  directory = data.prepare_dataset(task.id, source, progress=_PROGRESS.value)
  print(f"{task.id} ({task.name}): {directory}")
  for split in data.SPLITS:
    labels = data.split_labels(task.id, split, source)
    counts = ", ".join(f"{name}:{(labels == index).sum()}"
                       for index, name in enumerate(task.class_names))
    print(f"  {split}: {len(labels)} examples ({counts})")
  if _PREVIEW.value:
    path = data.write_preview(task.id, source, split=_PREVIEW_SPLIT.value,
                              progress=_PROGRESS.value)
    print(f"contact sheet: {path}")


if __name__ == "__main__":
  cli.run(main)
