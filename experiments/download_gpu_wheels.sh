#!/usr/bin/env bash
# Downloads into .whl/ (git-ignored) the small wheels the GPU machine lacks, for
# `python -m experiments.gpu_suite` there. That machine has no network and Python 3.12 with jax
# (CUDA), flax, optax, orbax-checkpoint, torch, onnxruntime, matplotlib, opencv and tqdm, but not
# ml-collections (configs) nor the data stack the training benchmark needs (tensorflow-datasets,
# grain, array-record and what they import that the machine lacks). Versions come from
# requirements.txt; promise has no wheel on PyPI, so it is built here (pure Python). About 11 MB.
# Run on a CPU machine with network:  bash experiments/download_gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(ml-collections tensorflow-datasets array-record grain dm-tree immutabledict simple-parsing
          docstring-parser tensorflow-metadata googleapis-common-protos termcolor toml tensorboardx
          portpicker)
rm -rf .whl && mkdir -p .whl
for name in "${packages[@]}"; do
  pin=$(grep -iE "^${name}==" requirements.txt)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 -d .whl "$pin"
done
python3 -m pip wheel -q --no-deps -w .whl "$(grep -iE '^promise==' requirements.txt)"
ls -l .whl
