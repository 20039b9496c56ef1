// Package bench is `vscd bench`: the project's own load generators. Each
// command (Intake, Chain, Prove, E2E, TEE) parses its flags, prepares its
// load before the clock starts, runs it and prints one JSON object of
// figures whose keys docs/BENCHMARKS.md and the user-facing contract name.
//
// The benches start what they load in-process (an embedded NATS, a
// database of their own, a coordinator, a whole devnet for E2E) and tear it
// down when done; none of them touches a deployment unless given its
// address.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vsc-labs/vsc/internal/cli"
)

// printJSON prints the bench's one JSON object.
func printJSON(env *cli.Env, v any) error { return json.NewEncoder(env.Stdout).Encode(v) }

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// percentiles sorts lat (milliseconds) and returns the p-th percentile of
// it (0 for none), rounded to the µs.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return round3(sorted[min(len(sorted)-1, int(p*float64(len(sorted))))])
}

// millis is a sorted copy of ds in milliseconds.
func millis(ds []time.Duration) []float64 {
	ms := make([]float64, len(ds))
	for i, d := range ds {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	slices.Sort(ms)
	return ms
}

// rateLimitNote says which intake rate limit a bench ran under.
func rateLimitNote(api string) string {
	if api == "" {
		return "off (in-process coordinator)"
	}
	return "the coordinator's own (see its /v1/info)"
}

// cpuProfile starts a CPU profile into path (none for ""); the returned
// function stops it.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuClock reads the CPU time of this process and of the whole machine, so
// that a bench reports CPU per unit of work: steadier than a rate on a
// shared machine.
type cpuClock struct{ process, machine float64 }

func readCPU() cpuClock { return cpuClock{cpuSeconds(), machineBusySeconds()} }

// since is the CPU seconds used since c: of this process, of the machine.
func (c cpuClock) since() (process, machine float64) {
	now := readCPU()
	return now.process - c.process, now.machine - c.machine
}

// machineBusySeconds is the CPU time every process on the machine has used
// (user, nice, system, irq, softirq; summed over cores) since boot, from
// /proc/stat; 0 where there is none.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks float64
	for _, i := range []int{1, 2, 3, 6, 7} {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
