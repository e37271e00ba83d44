package oneroster

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/oneroster/sample"
)

// BenchmarkReadDistrict reads a generated trust of 60 schools — 100,020
// people and about 1,060,000 enrolments — from CSV, with full validation,
// and reports the peak heap in use during the read, the heap the roster
// keeps, and the bytes allocated.
//
//	go test -run '^$' -bench BenchmarkReadDistrict -benchtime 3x ./internal/oneroster
//
// The feed (about 70 MB of CSV) is generated once into a temporary
// folder; nothing large is committed.
func BenchmarkReadDistrict(b *testing.B) {
	dir := b.TempDir()
	r := sample.Generate(sample.Options{Seed: 7, Schools: 60, Students: 1520, Staff: 147, NoDemographics: true})
	want := r.Counts()
	if err := WriteDir(dir, r, nil); err != nil {
		b.Fatal(err)
	}
	r = nil
	ctx := context.Background()
	opts := &ReadOptions{ValidateOptions: ValidateOptions{Session: "ay2025"}}

	var peak, kept, allocated uint64
	runs := 0
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		stop := watchHeap()
		b.StartTimer()

		f, err := Open(ctx, dir, opts)

		b.StopTimer()
		p := stop()
		if err != nil {
			b.Fatal(err)
		}
		if got := f.Roster.Counts(); got != want {
			b.Fatalf("read %+v, want %+v", got, want)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		allocated += after.TotalAlloc - before.TotalAlloc
		runtime.GC()
		runtime.ReadMemStats(&after)
		kept = max(kept, after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))
		peak = max(peak, p-min(p, before.HeapInuse))
		runtime.KeepAlive(f)
		runs++
		b.StartTimer()
	}
	const mb = 1 << 20
	b.ReportMetric(float64(peak)/mb, "peak-heap-MB")
	b.ReportMetric(float64(kept)/mb, "roster-heap-MB")
	b.ReportMetric(float64(allocated)/float64(runs)/mb, "alloc-MB/op")
	b.ReportMetric(float64(want.People), "people")
	b.ReportMetric(float64(want.Enrollments), "enrollments")
}

// watchHeap samples the heap in use (live objects plus free space in
// in-use spans, like MemStats.HeapInuse) every millisecond until the
// returned function is called, which returns the largest sample. Sampling
// through runtime/metrics does not stop the world, so it barely disturbs
// the read it measures.
func watchHeap() (stop func() uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	var (
		wg   sync.WaitGroup
		peak uint64
		done = make(chan struct{})
	)
	read := func() {
		metrics.Read(samples)
		peak = max(peak, samples[0].Value.Uint64()+samples[1].Value.Uint64())
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}
