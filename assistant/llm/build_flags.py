"""CMake flags for building llama-cpp-python on this CPU (`python -m assistant.llm.build_flags`
prints them; the Makefile passes them as CMAKE_ARGS).

Why: llama.cpp's default build targets the build machine (GGML_NATIVE) and, on CPUs with AMX
(Sapphire Rapids and later), enables its AMX kernels. On the virtual machines cairn is tested
on, llama-cpp-python 0.3.36 built that way crashes (SIGSEGV) on any prompt longer than one
token. Building with GGML_NATIVE=OFF and the CPU's other SIMD extensions named explicitly
keeps AVX-512/VNNI/BF16 speed without the AMX path. Elsewhere the default native build is
right, and no flags are printed.

`--avx2-only` prints the flags of a build without AVX-512 or AMX, whatever this CPU has: the
kernels an AVX2-only CPU (an older or smaller AMD EPYC, many laptops) runs. `make test-avx2`
builds one beside the normal build and runs the suite on it, so a change can be checked on
both CPU families from either.
"""
from __future__ import annotations

import sys
from pathlib import Path

# cpuinfo flag -> the ggml CMake option that uses it.
_FEATURES = (("avx", "GGML_AVX"), ("avx2", "GGML_AVX2"), ("fma", "GGML_FMA"), ("f16c", "GGML_F16C"),
             ("avx512f", "GGML_AVX512"), ("avx512_vnni", "GGML_AVX512_VNNI"), ("avx512_bf16", "GGML_AVX512_BF16"))


def cpu_flags(cpuinfo: str) -> set[str]:
    """The feature flags of the first CPU listed in /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cmake_args(flags: set[str]) -> str:
    """'' for a default (native) build, else the explicit non-AMX flag set."""
    if not any(f.startswith("amx") for f in flags):
        return ""
    options = ["-DGGML_NATIVE=OFF"] + [f"-D{option}={'ON' if flag in flags else 'OFF'}" for flag, option in _FEATURES]
    return " ".join(options)


AVX2_ONLY = {"avx", "avx2", "fma", "f16c"}  # the x86-64-v3 level, no AVX-512


def avx2_only_args() -> str:
    """The explicit flag set of an AVX2-only build (AVX-512, its extensions and AMX off)."""
    options = ["-DGGML_NATIVE=OFF"] + [f"-D{option}={'ON' if flag in AVX2_ONLY else 'OFF'}" for flag, option in _FEATURES]
    return " ".join(options + ["-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--avx2-only"]:
        print(avx2_only_args())
        return 0
    if argv:
        print(f"unknown arguments {argv}; use no argument (this CPU) or --avx2-only", file=sys.stderr)
        return 2
    path = Path("/proc/cpuinfo")
    print(cmake_args(cpu_flags(path.read_text())) if path.exists() else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
