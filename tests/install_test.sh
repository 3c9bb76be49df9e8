#!/usr/bin/env bash
# Install into a temporary prefix and build a program against it, once
# with pkg-config and once with CMake's find_package; both must run.
#   tests/install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
pcdir=$(dirname "$(find "$dir/prefix" -name gogc.pc | head -1)")
libdir=$(dirname "$pcdir")

# pkg-config, shared library
export PKG_CONFIG_PATH=$pcdir
cc $(pkg-config --cflags gogc) "$src/examples/finalizers.c" -o "$dir/fin-pc" $(pkg-config --libs --static gogc)
LD_LIBRARY_PATH=$libdir "$dir/fin-pc" >/dev/null
echo "pkg-config: built and ran examples/finalizers.c against $(pkg-config --modversion gogc)"

# CMake package, static library
mkdir -p "$dir/proj"
cp "$src/examples/pool.c" "$dir/proj/main.c"
cat >"$dir/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(gogc 0.1 CONFIG REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE gogc::gogc_static)
CM
cmake -S "$dir/proj" -B "$dir/proj/b" -DCMAKE_PREFIX_PATH="$dir/prefix" >/dev/null
cmake --build "$dir/proj/b" >/dev/null
"$dir/proj/b/consumer" >/dev/null
echo "CMake: find_package(gogc) and gogc::gogc_static built and ran examples/pool.c"
