"""The llama.cpp build flags: the AMX workaround applies only where AMX is advertised."""
from assistant.llm.build_flags import avx2_only_args, cmake_args, cpu_flags, main

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


def test_avx2_only_build_turns_off_every_avx512_and_amx_kernel(capsys) -> None:
    args = avx2_only_args().split()
    assert args[0] == "-DGGML_NATIVE=OFF" and "-DGGML_AVX2=ON" in args and "-DGGML_FMA=ON" in args
    assert {a for a in args if "AVX512" in a or "AMX" in a} == {
        "-DGGML_AVX512=OFF", "-DGGML_AVX512_VNNI=OFF", "-DGGML_AVX512_BF16=OFF",
        "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"}
    assert main(["--avx2-only"]) == 0 and capsys.readouterr().out.strip() == avx2_only_args()
    assert main(["--sse"]) == 2 and "--avx2-only" in capsys.readouterr().err
