#!/usr/bin/env bash
# Installs what the tests need, builds the Linux guest, builds everything and runs every test.
# Ends with the line "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v nasm >/dev/null || need+=(nasm)
[[ -f /usr/share/seabios/bios-256k.bin ]] || need+=(seabios)
command -v qemu-system-i386 >/dev/null || need+=(qemu-system-x86)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The Debian i386 Linux guest the machine tests boot (downloads cached under ~/.cache/emu/linux/).
tests/guests/linux/build.sh || echo "tests/guests/linux/build.sh failed: the Linux guest tests will fail"

dotnet build Emu.sln -c Release --nologo -v q -clp:ErrorsOnly || { echo "0 passed, 1 failed"; exit 1; }

results="$root/TestResults"
rm -rf "$results"
passed=0 failed=0
for proj in $(dotnet sln Emu.sln list | grep "^tests/.*\.csproj$"); do
  name="$(basename "$proj" .csproj)"
  dotnet test "$proj" -c Release --no-build --nologo -v q \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results" || true
  trx="$results/$name.trx"
  if [[ -f "$trx" ]]; then
    p=$(grep -o 'passed="[0-9]*"' "$trx" | head -1 | tr -dc 0-9)
    f=$(grep -o 'failed="[0-9]*"' "$trx" | head -1 | tr -dc 0-9)
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  else
    echo "no results for $name"; failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
