"""The llama.cpp build flags: the AMX workaround applies only where AMX is advertised."""
from assistant.llm.build_flags import cmake_args, cpu_flags

CPUINFO = "processor\t: 0\nflags\t\t: fpu avx avx2 fma f16c avx512f avx512_vnni amx_tile amx_int8\nbugs\t: x\n"


def test_amx_cpu_gets_explicit_non_native_flags() -> None:
    args = cmake_args(cpu_flags(CPUINFO))
    assert args.startswith("-DGGML_NATIVE=OFF")
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args
    assert "-DGGML_AVX512_BF16=OFF" in args  # not advertised: not compiled in
    assert "AMX" not in args


def test_other_cpus_keep_the_native_build() -> None:
    assert cmake_args(cpu_flags("flags\t: fpu avx avx2 fma\n")) == ""
    assert cmake_args(set()) == ""
