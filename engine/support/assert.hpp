#pragma once
// TOPUP_ASSERT stays on in release builds: wherever money or order state changes, a broken
// invariant must stop the process rather than let it move money wrongly (TIGER_STYLE).
#include <cstdio>
#include <cstdlib>

#define TOPUP_ASSERT(cond)                                                               \
  do {                                                                                   \
    if (!(cond)) [[unlikely]] {                                                          \
      std::fprintf(stderr, "topupd: assertion failed: %s (%s:%d)\n", #cond, __FILE__,   \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
