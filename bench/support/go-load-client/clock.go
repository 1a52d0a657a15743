package main

import (
	"syscall"
	"time"
	"unsafe"
)

// The clock of the benchmark payloads' `sentAt`, shared with the Node bench process that stamps
// them: CLOCK_MONOTONIC in ms (bench/support/bench-clock.ts; Node's hrtime is CLOCK_MONOTONIC).
// Both processes read the same kernel clock, so a latency is one subtraction, with no offset to
// estimate and no wall-clock step (NTP) to fear. Go exposes only differences of CLOCK_MONOTONIC
// (time.Time's monotonic reading), not its value: the value is read once with clock_gettime and
// then advanced by time.Since, a vDSO read instead of a syscall per chunk.
const clockMonotonic = 1

var (
	clockBase   time.Time
	clockBaseMs float64
)

func init() {
	var now syscall.Timespec
	clockBase = time.Now()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&now)), 0); errno != 0 {
		panic("clock_gettime(CLOCK_MONOTONIC): " + errno.Error())
	}
	clockBaseMs = float64(now.Sec)*1e3 + float64(now.Nsec)/1e6
}

// nowMs is CLOCK_MONOTONIC in ms.
func nowMs() float64 {
	return clockBaseMs + float64(time.Since(clockBase).Nanoseconds())/1e6
}
