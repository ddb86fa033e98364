"""n2 night (2 classes, 50x50): configs/n2.py[:quick|:paper].

The default is the practical recipe (configs/base.py): Adam 1e-3, 5 % warm-up + cosine decay,
random shifts (3 px) and mirroring, 16 epochs on 5x the paper's training video (data.scale=5:
the train chunk 2 plus chunks 1, 6, 7, 8; val and test stay chunks 3 and 4); at f > 1 the
slot-wise warm start (the slot model 16 epochs at 3e-3, embedded into every slot; no folded
epochs follow).
`:paper` is the authors' recipe (RMSprop 0.001/1.5, 50 epochs, the train chunk only), `:quick`
the practical recipe for 4 epochs on the same 5x training video (the cpu accuracy table's cell,
results/accuracy/cpu.md, trains it 12 epochs at f = 1 and 8 + 4 folded; until session 7 it was 10
epochs on the train chunk alone, where f = 1 reached 94.53 %).

Recipe comparison on the embedded scene video v3 (3,000 frames and ~60 cars per chunk; val and
test 3,000 frames each, so a 95% interval is about ±0.8 points), model and data seed 0, the
authors' init; 2-core CPU shared with the accuracy table's runs (wall times include compilation):

  python -m experiments.train --config=configs/n2.py
  -> done: best val accuracy 0.9760 at epoch 8 (test accuracy 0.9773)   (epochs and evaluation
     340 s on the shared CPU; last epoch val 0.9753 / test 0.9800, train accuracy 0.978)

  recipe (f = 1)                                     epochs  best val  test at best
  authors' (:paper: RMSprop 0.001/1.5)               10      0.9480    0.9493
  authors' (:paper)                                  50      0.9503    0.9530  (train acc 1.00)
  Adam 1e-3, warm-up + cosine                        10      0.9440    0.9503
  + shift 3 px + mirror                              10      0.9493    0.9430
  + label smoothing 0.1                              10      0.9473    0.9420
  + shift 3 px + mirror                              30      0.9577    0.9530
  + shift 3 px + mirror, 5x video (the default)      16      0.9760    0.9773

Only more training video is resolved by the 3,000-frame test set (+2.4 points over the same
recipe on the train chunk alone; the other rows differ by less than their interval). On the
train chunk alone the errors were mostly cars at the edge of the view (25-50 % visible) or far
away (< 15 px tall at 160x120): of the then :quick f = 1 model's 164 test errors (24 epochs, test
0.9453), 125 are missed cars (box area median 300 px² against 837 for the cars it finds) and
the false alarms sit next to labelled cars (median 1 frame away); more distinct cars teach the
small and partial ones. The augmentation stays because the authors' recipe overfits (train
accuracy 1.00 from epoch ~30) while the augmented one does not.

Folded, the default recipe (slot model 16 epochs at 3e-3, embedded into every slot):

  python -m experiments.train --config=configs/n2.py --config.fold=4
  -> warm start: embedded the slot model of epoch 10 (val acc 0.9783) into each of the 4 slots
  -> done: best val accuracy 0.9783 at epoch 0 (test accuracy 0.9807)   (156 s on the 2-core
     CPU, the dataset cached; stream order and strided equal: the slots are independent)

0.34 points above f = 1 (0.9773; each ±0.5). With the slot model at 1e-3 (session 8): best
val 0.9670, test 0.9687, 0.86 points below f = 1. Until session 7 the recipe trained 16 folded
epochs at 1e-4 after the embedding: best val 0.9670 at folded epoch 11, test 0.9670 (1.03
below f = 1). From the 1e-3 slot model (the cpu table's n2 f = 4 cell with 16 slot epochs,
:quick), folded epochs lowered val from 0.9670 to 0.9563 in the first and reached 0.9597 (test
0.9650) after 4 at 1e-4 (Adam); SGD with momentum 0.9 at 1e-3: 0.9557, then 0.9623 (test
0.9660) after 3. The folded model is its slot model, half as wide (C8 C8 M F64 F2 per slot),
trained at a rate that suits that width.

Earlier, on the train chunk alone (slot model: 10 epochs of the recipe above at 1e-3; then
folded epochs); test accuracies on the permuted split (the authors' protocol), with
consecutive frames folded together (stream) and strided:

  python -m experiments.train --config=configs/n2.py:quick --config.fold=4 \
      --config.warm_start.slot_epochs=10 --config.num_epochs=4
  -> slot model best val 0.9353 (test 0.9263); folded: best val 0.9343 at epoch 2 (test 0.9187)

  folded phase                           epoch  val     test    test stream  val strided
  4 epochs at 1e-4 (cosine)              4      0.9333  0.9237  0.9263       0.9377
  10 epochs at 1e-3 (cosine)             10     0.9310  0.9100  0.8663       0.9233

With the warm start at 1e-4 the folded model stays where its slots started and the deployment
gap closes: stream-order accuracy equals the permuted one (before, without it: test 0.9420
permuted vs 0.8383 stream after the authors' 50 epochs). At 1e-3 the start is partly undone and
the gap returns. The f = 4 drop (0.953 → 0.924) is the slot model's: it is 1/2 as wide
(C8 C8 M F64 F2 per slot).
"""

from configs import base


def get_config(arg: str | None = None):
  config = base.task_config(
      "n2", arg, family="noscope", quick_epochs=4, quick_scale=5.0)
  return config
