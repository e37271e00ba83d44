package graph

import (
	"fmt"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
)

// BenchmarkExecuteCreates creates accounts on the simulator with Graph's
// default limits, run faster by a time scale, and reports the write rate
// reached in Graph time against the quota: 3,000 writes per 150 s per app
// and tenant, a bucket that starts full and refills at 20/s. The lower
// bound of a run of N writes is (N − 3,000) / 20 s; ratio is the run's
// Graph time over that bound (the target is ≤ 1.2).
//
// The time scale is 10 because the simulator, not the executor, is what
// runs out of CPU above it: each create scans every account for address
// clashes. Latency is per batch in Graph time; inflight 0 means the
// default (ExecutorOptions.MaxInFlight documents a sweep).
//
//	go test ./internal/graph -run '^$' -bench ExecuteCreates -benchtime 1x
func BenchmarkExecuteCreates(b *testing.B) {
	for _, bc := range []struct {
		creates  int
		scale    float64
		latency  time.Duration // per batch, Graph time
		inflight int           // 0: the default
	}{
		{creates: 5000, scale: 10, latency: time.Second},
		{creates: 5000, scale: 10, latency: 2 * time.Second},
	} {
		b.Run(fmt.Sprintf("n=%d/scale=%g/latency=%v/inflight=%d", bc.creates, bc.scale, bc.latency, bc.inflight), func(b *testing.B) {
			ops := make([]apply.Op, bc.creates)
			for i, a := range aliases("bench", bc.creates) {
				ops[i] = createOp(a)
			}
			limits := graphsim.DefaultLimits()
			quota := float64(limits.AppTenantWrites) / limits.AppTenantWindow.Seconds()
			bound := float64(bc.creates-limits.AppTenantWrites) / quota
			var graphSecs, requests, throttled float64
			for b.Loop() {
				ts := simTenant()
				ts.SizeClass = graphsim.SizeL // a 1,650-person school
				env := newSimEnv(b, graphsim.Options{TimeScale: bc.scale, Latency: graphsim.Latency{Write: bc.latency, Read: bc.latency / 2}}, ts, nil)
				ex := NewExecutor(env.client, ExecutorOptions{TimeScale: bc.scale, MaxInFlight: bc.inflight})
				start := time.Now()
				res := executeAll(b, ex, ops)
				graphSecs += time.Since(start).Seconds() * bc.scale
				for _, r := range res {
					if r.Status != apply.Done {
						b.Fatalf("%s = %+v, want done", r.ID, r)
					}
				}
				st := env.stats(b)
				if st.Writes != int64(bc.creates) {
					b.Fatalf("graphsim counted %d writes, want %d", st.Writes, bc.creates)
				}
				requests += float64(st.Batches)
				throttled += float64(st.Throttled)
			}
			n := float64(b.N)
			b.ReportMetric(float64(bc.creates)*n/graphSecs, "writes/s")
			b.ReportMetric(quota, "quota-writes/s")
			b.ReportMetric(graphSecs/n/bound, "ratio")
			b.ReportMetric(requests/n/float64(bc.creates), "requests/write")
			b.ReportMetric(throttled/n, "429s")
		})
	}
}
