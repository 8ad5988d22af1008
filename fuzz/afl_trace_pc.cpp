// GCC's coverage callback feeding AFL++'s map: the bridge that lets AFL++ fuzz our C++23.
//
// AFL++'s own GCC plugin (afl-g++-fast) refuses Debian's g++ 12 when the two were built from
// different package revisions, and clang 14 cannot compile libstdc++ 12's <expected>. GCC's
// -fsanitize-coverage=trace-pc calls __sanitizer_cov_trace_pc at the start of every basic
// block; this records the edge (previous block, this block) in AFL++'s shared map the way
// AFL's classic instrumentation does. AFL++'s runtime (afl-compiler-rt.o) provides the map,
// the fork server and persistent mode; its driver (libAFLDriver.a) calls
// LLVMFuzzerTestOneInput.
//
// This file is compiled without the coverage flag (it must not call itself).
#include <cstdint>

extern "C" unsigned char* __afl_area_ptr;  // AFL++'s runtime: the shared map
extern "C" std::uint32_t __afl_final_loc;  // AFL++'s runtime: the map size the target asks for

namespace {

// 256 KiB, not AFL's default 64 KiB: the flow target alone reaches over 20,000 edges, and a
// fuller map means more edges sharing a counter.
constexpr std::uint32_t kMapBits = 18;
constexpr std::uintptr_t kMapMask = (std::uintptr_t{1} << kMapBits) - 1;
thread_local std::uintptr_t previous_block;

// The runtime sizes the map from __afl_final_loc in its own early constructors (priorities 3
// and 5), so this one must run before them.
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
__attribute__((constructor(1))) void ask_for_a_larger_map() { __afl_final_loc = static_cast<std::uint32_t>(kMapMask); }

}  // namespace

extern "C" void __sanitizer_cov_trace_pc() {
  const auto pc = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  // Scatter the return address over the map (call sites are few bytes apart).
  const std::uintptr_t block = ((pc >> 4) ^ (pc << 8)) & kMapMask;
  ++__afl_area_ptr[block ^ previous_block];
  // Shifted so that A->B and B->A, and A->A and B->B, are different edges.
  previous_block = block >> 1;
}
