# second GPU call of session 6: sweep with the padded formulations, peers on CUDA, training throughput
set -u
B=${BATCH:-1024}; T1=${T1:-100}; T2=${T2:-100}; T3=${T3:-70}
TASKS=${TASKS:-"('v1','n2','n4','g32','g64')"}; PT=${PT:-"('n2','v1')"}; TT=${TT:-n2,v1}
C="--config=configs/benchmark.py --config.batch_sizes=($B,) --config.dtype=${DT:-float16} --config.compound=False --config.trials=10 --config.min_trial_seconds=${MT:-0.05} --config.tune_cache=/tmp/tc.json"
export PYTHONUNBUFFERED=1 FOLDEDCNN_DATA_DIR=/tmp/fdata
timeout $T1 python3 -m experiments.benchmark $C --config.tasks="$TASKS" --config.folds="(1,2,3,4)" --config.tune=always --config.peers="()" --config.out=$OUT/bench_sweep2.csv 2>&1 | tee $OUT/sweep2.log | grep -v Warning
timeout $T2 python3 -m experiments.benchmark $C --config.tasks="$PT" --config.folds="(1,4)" --config.tune=cached --config.peers="('torch_channels_last','torch_compile','onnxruntime')" --config.out=$OUT/bench_peers2.csv 2>&1 | tee $OUT/peers2.log | grep -v Warning
timeout $T3 python3 -m experiments.benchmark_train --tasks=$TT --folds=1,4 --scale=${SC:-0.05} --trials=${TR:-3} --notorch --out=$OUT/train_throughput.csv 2>&1 | tee $OUT/train.log | tail -20
cat /tmp/tc.json | python3 -c "import json,sys; d=json.load(sys.stdin)['entries']; [print(json.loads(k)['spec'][0][:12], json.loads(k)['spec'][3], v['variant']['formulation'], {a:round(b*1e6) for a,b in v['seconds'].items()}) for k,v in d.items()]"
