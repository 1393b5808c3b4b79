#pragma once
// What /proc says about a process or the machine: the CPU and memory figures of every scenario.

namespace topup::bench {

/// VmRSS of a process in KiB, 0 if unreadable.
long rss_kb(int pid);

/// User + system CPU time of a process (0 = this one) in seconds, from /proc/<pid>/stat; -1 if
/// unreadable.
double cpu_s(int pid);

/// CPU seconds the whole machine spent busy (all cores, /proc/stat), for telling how much of
/// it went to processes other than the three measured ones.
double machine_busy_s();

}  // namespace topup::bench
