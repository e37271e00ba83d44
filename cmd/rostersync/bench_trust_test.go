package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/blobstore"
	"github.com/rostersync/rostersync/internal/state/blobstore/blobtest"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/state/tablestore"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Trust sizes for BenchmarkTrustSimulate: schools of 1,150 pupils and 100
// staff, so 10, 20, 40 and 80 schools make 12,500 to 100,000 people.
const (
	trustStudents = 1150
	trustStaff    = 100
)

var trustSchools = []int{10, 20, 40, 80}

// BenchmarkTrustSimulate is `rostersync sample --schools N` then
// `rostersync sync --simulate` (users) on the embedded store, in process,
// for trusts of 12,500, 25,000, 50,000 and 100,000 people, and the
// 12,500-person trust again on Azurite (Table Storage with plan bodies and
// snapshots in Blob Storage, production's arrangement) when
// ROSTERSYNC_TEST_TABLES and ROSTERSYNC_TEST_BLOBS name it (`make bench`
// starts it with scripts/azurite.sh run). Per size it
// reports the run's wall time (feed read, plan, plan save, run records;
// the feed is generated beforehand), the peak of the Go runtime's memory
// (sampled every 5 ms: every byte the process mapped for Go, the figure
// closest to its resident size) and the store's row writes, transactions
// and blob writes; then the ratio time(2n)/time(n) of each consecutive
// pair. With -benchtime Nx it keeps each size's fastest of N runs. Targets (issue 15): 100,000 people in under 5 s and 1 GB, every
// ratio at most 2.2.
func BenchmarkTrustSimulate(b *testing.B) {
	year := time.Now().Year()
	if time.Now().Month() < time.September {
		year--
	}
	type result struct {
		store   string
		people  int
		elapsed time.Duration
		peak    uint64
		runs    int
		writes  storeCounts
	}
	type trustCase struct {
		schools int
		azurite bool
	}
	var cases []trustCase
	for _, schools := range trustSchools {
		cases = append(cases, trustCase{schools: schools})
	}
	tables, blobs := os.Getenv(blobtest.TablesEnv), os.Getenv(blobtest.Env)
	if tables != "" && blobs != "" {
		cases = append(cases, trustCase{schools: trustSchools[0], azurite: true})
	}
	var results []result
	for _, tc := range cases {
		schools := tc.schools
		people := schools * (trustStudents + trustStaff)
		name, storeName := fmt.Sprintf("people=%d", people), "embedded"
		if tc.azurite {
			name, storeName = name+"/azurite", "azurite"
		}
		b.Run(name, func(b *testing.B) {
			// Of b.N runs (make bench: 3) the table keeps the fastest,
			// since a shared machine's noise only ever adds time, and the
			// highest peak, so memory is not flattered.
			var best result
			for range b.N {
				var last result
				b.StopTimer()
				feed := filepath.Join(b.TempDir(), "feed")
				var out, errOut bytes.Buffer
				args := []string{"sample", "--out", feed, "--schools", strconv.Itoa(schools), "--students", strconv.Itoa(trustStudents),
					"--staff", strconv.Itoa(trustStaff), "--year", strconv.Itoa(year)}
				if err := run(context.Background(), args, testEnv(&out, &errOut)); err != nil {
					b.Fatalf("sample: %v %s", err, errOut.String())
				}
				last = result{store: storeName, people: people}
				runtime.GC()
				debug.FreeOSMemory()
				b.StartTimer()

				sampler := startPeakSampler()
				start := time.Now()
				backend := trustEmbedded
				if tc.azurite {
					backend = func(b *testing.B, _ string) state.Backend { return trustAzurite(b, tables, blobs) }
				}
				sum, counts := trustSimulate(b, feed, backend)
				last.elapsed = time.Since(start)
				last.peak = sampler.stop()
				last.writes = counts
				b.StopTimer()
				if sum.Status != string(runs.StatusSucceeded) || sum.Creates+sum.Unsynced < people*9/10 {
					b.Fatalf("simulate of %d people: status %s, %d creates, %d unsynced (%s)", people, sum.Status, sum.Creates, sum.Unsynced, sum.Error)
				}
				last.runs, last.peak = best.runs+1, max(last.peak, best.peak)
				if best.runs > 0 && best.elapsed < last.elapsed {
					last.elapsed = best.elapsed
				}
				best = last
			}
			last := best
			b.ReportMetric(last.elapsed.Seconds(), "s/run")
			b.ReportMetric(float64(last.peak)/(1<<20), "peak-MB")
			b.ReportMetric(float64(last.writes.rows), "row-writes")
			b.ReportMetric(float64(last.writes.transactions), "transactions")
			b.ReportMetric(float64(last.writes.blobs), "blob-writes")
			// The testing package runs a sub-benchmark once before its
			// b.N runs: the later call replaces the earlier's figures.
			if n := len(results); n > 0 && results[n-1].people == last.people && results[n-1].store == last.store {
				results = results[:n-1]
			}
			results = append(results, last)
		})
	}
	if len(results) == 0 {
		return
	}
	fmt.Printf("\n%-8s %-9s %5s %9s %9s %11s %13s %11s %12s\n", "people", "store", "runs", "best s", "peak MB", "row writes", "transactions", "blob writes", "t(2n)/t(n)")
	for i, r := range results {
		ratio := "-"
		if i > 0 && results[i-1].people*2 == r.people && results[i-1].store == r.store {
			ratio = fmt.Sprintf("%.2f", r.elapsed.Seconds()/results[i-1].elapsed.Seconds())
		}
		fmt.Printf("%-8d %-9s %5d %9.2f %9.0f %11d %13d %11d %12s\n", r.people, r.store, r.runs, r.elapsed.Seconds(), float64(r.peak)/(1<<20),
			r.writes.rows, r.writes.transactions, r.writes.blobs, ratio)
	}
}

// trustEmbedded is a fresh embedded store in the state folder dir, as
// `rostersync sync` opens it; closed when the benchmark ends.
func trustEmbedded(b *testing.B, dir string) state.Backend {
	store, err := embedded.Open(filepath.Join(dir, storeDir))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	return store
}

// trustAzurite is production's store on Azurite: tables under a fresh
// prefix and blobs in a fresh container, both deleted when the benchmark
// ends.
func trustAzurite(b *testing.B, tablesConn, blobsConn string) state.Backend {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	suffix := make([]byte, 10)
	for i := range suffix {
		suffix[i] = alnum[rand.IntN(len(alnum))]
	}
	tables, err := tablestore.FromConnectionString(tablesConn, tablestore.Options{TablePrefix: "bench" + string(suffix)})
	if err != nil {
		b.Fatal(err)
	}
	account, err := blobstore.FromConnectionString(blobsConn)
	if err != nil {
		b.Fatal(err)
	}
	container := "bench-" + string(suffix)
	blobs, err := account.Blobs(container)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tables.DeleteTables(ctx); err != nil {
			b.Errorf("delete benchmark tables: %v", err)
		}
		if err := account.DeleteContainer(ctx, container); err != nil {
			b.Errorf("delete benchmark container: %v", err)
		}
	})
	return state.WithBlobs(tables, blobs)
}

// trustSimulate runs one users simulate of feed in a fresh state folder
// and the store open returns, as `rostersync sync --simulate` does,
// counting the store's writes.
func trustSimulate(b *testing.B, feed string, open func(b *testing.B, dir string) state.Backend) (syncSummary, storeCounts) {
	ctx := context.Background()
	dir := b.TempDir()
	store := open(b, dir)
	counted := &countingBackend{Backend: store, blobs: store.(state.Blobs)}
	w, err := openWorld(ctx, worldOptions{dir: dir, tenantID: "sim-school", domain: "school.example", timeScale: 60,
		root: "../..", feedDir: filepath.Dir(feed), backend: counted})
	if err != nil {
		b.Fatal(err)
	}
	defer w.close()
	sum, err := w.syncFeed(ctx, feed, runs.ModeSimulate, []string{tenant.EntityUsers}, feedChoice{})
	if err != nil {
		b.Fatalf("sync --simulate: %v", err)
	}
	return sum, counted.counts()
}

// storeCounts are a store's writes: rows written (each operation of a
// transaction counts), transactions (a single write counts as one) and
// blobs put.
type storeCounts struct{ rows, transactions, blobs int64 }

// countingBackend counts the writes made through it.
type countingBackend struct {
	state.Backend
	blobs                    state.Blobs
	rows, transactions, puts atomic.Int64
}

func (c *countingBackend) counts() storeCounts {
	return storeCounts{rows: c.rows.Load(), transactions: c.transactions.Load(), blobs: c.puts.Load()}
}

func (c *countingBackend) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := c.Backend.Table(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingTable{Table: t, c: c}, nil
}

func (c *countingBackend) PutBlob(ctx context.Context, name string, data []byte) error {
	c.puts.Add(1)
	return c.blobs.PutBlob(ctx, name, data)
}

func (c *countingBackend) GetBlob(ctx context.Context, name string) ([]byte, error) {
	return c.blobs.GetBlob(ctx, name)
}

type countingTable struct {
	state.Table
	c *countingBackend
}

func (t countingTable) one() { t.c.rows.Add(1); t.c.transactions.Add(1) }

func (t countingTable) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.one()
	return t.Table.Insert(ctx, e)
}

func (t countingTable) Update(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.one()
	return t.Table.Update(ctx, e)
}

func (t countingTable) Upsert(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.one()
	return t.Table.Upsert(ctx, e)
}

func (t countingTable) Delete(ctx context.Context, pk, rk, etag string) error {
	t.one()
	return t.Table.Delete(ctx, pk, rk, etag)
}

func (t countingTable) Transact(ctx context.Context, ops []state.Op) error {
	t.c.rows.Add(int64(len(ops)))
	t.c.transactions.Add(1)
	return t.Table.Transact(ctx, ops)
}

// peakSampler samples the memory the Go runtime has mapped
// (/memory/classes/total:bytes less what it has returned to the OS) until
// stopped, and keeps the largest figure.
type peakSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startPeakSampler() *peakSampler {
	s := &peakSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			s.sample()
			select {
			case <-s.done:
				s.sample()
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *peakSampler) sample() {
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	if v := m[0].Value.Uint64() - m[1].Value.Uint64(); v > s.peak {
		s.peak = v
	}
}

func (s *peakSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return s.peak
}
