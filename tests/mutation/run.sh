#!/usr/bin/env bash
# Mutation testing with cosmic-ray: docs/testing.md explains the choices and lists the
# survivors. Not part of CI (about an hour per module on 2 cores).
#
#   pip install cosmic-ray            # in the environment that has mcengine[test]
#   tests/mutation/run.sh parameters scenario &  MUTATION_WORKERS=2 tests/mutation/run.sh streams kernel
#
# Each module is mutated in a scratch copy of the tracked files, so two runs can share a
# checkout. Results: .mutation/MODULE.sqlite and .mutation/MODULE.txt (cr-report).
# A second run goes on where the first stopped; delete MODULE.sqlite after changing the
# module. MUTATION_RETRY=1 runs the survivors again (after tests were added).
# MUTATION_WORKERS=N tests N mutants at a time, each in its own copy, through cosmic-ray's
# http distributor (ports MUTATION_PORT, default 9876, and up).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${MUTATION_OUT:-$root/.mutation}
mkdir -p "$out"

modules=("$@")
[ $# -gt 0 ] || modules=(parameters scenario streams kernel)
for module in "${modules[@]}"; do
    case $module in
    parameters | scenario)
        # Plain Python: the tests of the schema, its messages and the document fuzzers.
        tests="tests/test_scenario.py tests/test_stress.py tests/test_fuzz_documents.py -m 'not slow'"
        jit=0
        ;;
    streams | kernel)
        # Numba kernels run as plain Python: a mutant needs no 30 s compile, and a
        # stale on-disk cache cannot hide it (Numba checks only the kernel's own file).
        # The reference test compares every output path by path with a plain-numpy
        # transcription of MODEL.md, on fewer paths than in CI. The streams' statistical
        # test takes a minute as plain Python; the known answers, the golden hash and the
        # word-for-word comparison with numpy's ziggurat stand in for it.
        if [ "$module" = streams ]; then
            tests="tests/test_streams.py tests/test_reference.py"
        else
            tests="tests/test_reference.py tests/test_kernel_outputs.py"
        fi
        tests="$tests -m 'not slow and not statistical' -k 'not right_distributions'"
        jit=1
        ;;
    *)
        echo "run.sh: unknown module '$module' (parameters, scenario, streams, kernel)" >&2
        exit 2
        ;;
    esac
    # The copy sits beside a link to ../shared, as the checkout does (MODEL.md's tables).
    scratch=$(mktemp -d)
    work="$scratch/main"
    mkdir "$work"
    [ -d "$root/../shared" ] && ln -s "$(cd "$root/../shared" && pwd)" "$scratch/shared"
    (cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work")
    config="$work/cosmic-ray.toml"
    case $module in  # where each module lives in the layers (docs/architecture.md)
    parameters | scenario) path=model/$module ;;
    streams) path=rng/streams ;;
    kernel) path=kernel/paths ;;
    esac
    sed -e "s#MODULE#$path#" -e "s#TESTS#${tests//\'/\"}#" "$here/cosmic-ray.toml" >"$config"
    db="$out/$module.sqlite"
    (
        cd "$work"
        export NUMBA_DISABLE_JIT=$jit MCENGINE_REFERENCE_PATHS=16
        # The unmutated code must pass first, or every mutant would count as killed.
        eval "python -m pytest -x -q -p no:cacheprovider -W ignore::RuntimeWarning $tests" >/dev/null
        if [ ! -e "$db" ]; then
            cosmic-ray init "$config" "$db"
            cr-filter-operators "$db" "$config"
            cr-filter-pragma "$db"
        elif [ "${MUTATION_RETRY:-0}" = 1 ]; then
            python - "$db" <<'PY'
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    db.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
PY
        fi
        workers=${MUTATION_WORKERS:-1}
        if [ "$workers" -gt 1 ]; then
            urls=""
            for i in $(seq 1 "$workers"); do
                port=$((${MUTATION_PORT:-9876} + i - 1))
                copy="$work"
                if [ "$i" -gt 1 ]; then
                    copy="$scratch/main$i"
                    cp -a "$work" "$copy" # -a keeps the mtimes that Numba's cache checks
                fi
                (cd "$copy" && exec cosmic-ray http-worker --port "$port") >/dev/null 2>&1 &
                urls="$urls'http://localhost:$port', "
            done
            trap 'kill $(jobs -p) 2>/dev/null' EXIT
            sed -i 's/^name = "local"$/name = "http"/' "$config"
            printf '\n[cosmic-ray.distributor.http]\nworker-urls = [%s]\n' "$urls" >>"$config"
            sleep 5 # until the workers listen
        fi
        cosmic-ray exec "$config" "$db"
    )
    cr-report "$db" >"$out/$module.txt"
    tail -n 3 "$out/$module.txt"
    rm -rf "$scratch"
done
