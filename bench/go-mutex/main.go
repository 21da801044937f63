// Command go-mutex is the bench's Go peer: lock cycles with etcd's own client-side lock,
// go.etcd.io/etcd/clientv3/concurrency.Mutex (etcd 3.4, as Debian's golang-etcd-server-dev ships
// it), in one process with one gRPC connection, the way a Go service would embed it.
//
//	uncontended: -concurrency workers, each with its own Session (one lease) and its own key,
//	             loop Lock + Unlock; latency = the whole cycle.
//	contended:   -concurrency workers, each with its own Session, all on ONE key; each locks
//	             (waiting in the create-revision queue) and unlocks at once; latency = time in Lock.
//
// Protocol with bench/peers-go-mutex.ts: the program creates the sessions and runs the warm-up,
// prints the line "ready" on stdout, waits for a line on stdin, runs the measured window, prints
// ONE JSON line with the result, revokes its sessions and exits. It exits at once if stdin closes
// before the result (the bench died) and gives up after -timeout in any case.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
	"go.uber.org/zap"
)

// number is a float that JSON can carry: NaN (no samples) is written as null.
type number float64

func (v number) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// result is what the bench's LoopResult needs; latencies in milliseconds, nearest-rank
// percentiles as in bench/stats.ts.
type result struct {
	Mode        string `json:"mode"`
	Concurrency int    `json:"concurrency"`
	Ops         int    `json:"ops"`
	Errors      int64  `json:"errors"`
	ElapsedMs   number `json:"elapsedMs"`
	OpsPerS     number `json:"opsPerS"`
	MeanMs      number `json:"meanMs"`
	P50Ms       number `json:"p50Ms"`
	P95Ms       number `json:"p95Ms"`
	P99Ms       number `json:"p99Ms"`
	MaxMs       number `json:"maxMs"`
	PerWorker   []int  `json:"perWorker"`
	FirstError  string `json:"firstError,omitempty"`
}

type options struct {
	endpoint    string
	mode        string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	prefix      string
	ttl         int
	maxOps      int64
	opTimeout   time.Duration
	timeout     time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.endpoint, "endpoint", "127.0.0.1:2379", "etcd client endpoint")
	flag.StringVar(&o.mode, "mode", "uncontended", "uncontended (distinct keys) or contended (one key)")
	flag.IntVar(&o.concurrency, "concurrency", 1, "workers, each with its own session")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured window")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "warm-up before the measured window")
	flag.StringVar(&o.prefix, "prefix", "bench/gomutex", "key prefix")
	flag.IntVar(&o.ttl, "ttl", 300, "session lease TTL in seconds")
	flag.Int64Var(&o.maxOps, "max-ops", 200000, "start no new cycle after this many in a window")
	flag.DurationVar(&o.opTimeout, "op-timeout", 20*time.Second, "give up one Lock or Unlock after this long")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up the whole run after this long")
	flag.Parse()
	if o.mode != "uncontended" && o.mode != "contended" {
		fail(fmt.Errorf("unknown -mode %q", o.mode))
	}
	if o.concurrency < 1 {
		fail(errors.New("-concurrency must be at least 1"))
	}
	time.AfterFunc(o.timeout, func() { fail(fmt.Errorf("gave up after -timeout %s", o.timeout)) })
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "go-mutex: %v\n", err)
	os.Exit(1)
}

func run(o options) error {
	logConfig := zap.NewProductionConfig()
	logConfig.Level = zap.NewAtomicLevelAt(zap.ErrorLevel)
	endpoint := o.endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		LogConfig:   &logConfig,
	})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	defer client.Close()

	sessions := make([]*concurrency.Session, o.concurrency)
	defer func() {
		var wg sync.WaitGroup
		for _, s := range sessions {
			if s != nil {
				wg.Add(1)
				go func(s *concurrency.Session) {
					defer wg.Done()
					_ = s.Close() // revokes the lease (bounded by -timeout)
				}(s)
			}
		}
		wg.Wait()
	}()
	mutexes := make([]*concurrency.Mutex, o.concurrency)
	for w := range sessions {
		s, err := concurrency.NewSession(client, concurrency.WithTTL(o.ttl))
		if err != nil {
			return fmt.Errorf("session %d: %w", w, err)
		}
		sessions[w] = s
		key := fmt.Sprintf("%s/contended", o.prefix)
		if o.mode == "uncontended" {
			key = fmt.Sprintf("%s/u/%d/%d", o.prefix, o.concurrency, w)
		}
		mutexes[w] = concurrency.NewMutex(s, key)
	}

	if o.warmup > 0 {
		window(o, mutexes, o.warmup)
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() {
		return errors.New("stdin closed before the measured window")
	}
	// While measuring, a closed stdin means the bench is gone: stop at once. Afterwards the bench
	// closes it itself, and the deferred calls revoke the sessions.
	measured := make(chan struct{})
	go func() {
		for in.Scan() {
		}
		select {
		case <-measured:
		default:
			fail(errors.New("stdin closed during the measured window"))
		}
	}()

	r := window(o, mutexes, o.duration)
	close(measured)
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	return nil
}

// window runs every worker's loop for d (no new cycle starts after it; the one in flight ends)
// and summarises the cycles that succeeded.
func window(o options, mutexes []*concurrency.Mutex, d time.Duration) result {
	var (
		started    atomic.Int64
		errCount   atomic.Int64
		mu         sync.Mutex
		latencies  []float64
		firstError string
		wg         sync.WaitGroup
	)
	perWorker := make([]int, len(mutexes))
	begin := time.Now()
	deadline := begin.Add(d)
	for w, m := range mutexes {
		wg.Add(1)
		go func(w int, m *concurrency.Mutex) {
			defer wg.Done()
			own := make([]float64, 0, 1024)
			for time.Now().Before(deadline) && started.Add(1) <= o.maxOps {
				ms, err := cycle(o, m)
				if err != nil {
					errCount.Add(1)
					mu.Lock()
					if firstError == "" {
						firstError = err.Error()
					}
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
					continue
				}
				own = append(own, ms)
				perWorker[w]++
			}
			mu.Lock()
			latencies = append(latencies, own...)
			mu.Unlock()
		}(w, m)
	}
	wg.Wait()
	elapsed := time.Since(begin)
	return summarise(o, latencies, perWorker, errCount.Load(), firstError, elapsed)
}

// cycle is one Lock + Unlock; it returns the latency the bench reports, in milliseconds: the
// whole cycle when uncontended, the time spent in Lock (waiting for the grant) when contended.
func cycle(o options, m *concurrency.Mutex) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.opTimeout)
	defer cancel()
	t0 := time.Now()
	if err := m.Lock(ctx); err != nil {
		return 0, fmt.Errorf("lock: %w", err)
	}
	waited := time.Since(t0)
	if err := m.Unlock(ctx); err != nil {
		return 0, fmt.Errorf("unlock: %w", err)
	}
	if o.mode == "contended" {
		return millis(waited), nil
	}
	return millis(time.Since(t0)), nil
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func summarise(o options, lat []float64, perWorker []int, errs int64, firstError string, elapsed time.Duration) result {
	sort.Float64s(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	r := result{
		Mode:        o.mode,
		Concurrency: o.concurrency,
		Ops:         len(lat),
		Errors:      errs,
		ElapsedMs:   number(millis(elapsed)),
		OpsPerS:     number(float64(len(lat)) / elapsed.Seconds()),
		MeanMs:      number(math.NaN()),
		P50Ms:       number(percentile(lat, 50)),
		P95Ms:       number(percentile(lat, 95)),
		P99Ms:       number(percentile(lat, 99)),
		MaxMs:       number(math.NaN()),
		PerWorker:   perWorker,
		FirstError:  firstError,
	}
	if len(lat) > 0 {
		r.MeanMs = number(sum / float64(len(lat)))
		r.MaxMs = number(lat[len(lat)-1])
	}
	return r
}

// percentile is the nearest-rank percentile of an ascending slice (NaN when empty), as
// bench/stats.ts computes it.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	i := rank - 1
	if i < 0 {
		i = 0
	}
	if i > len(sorted)-1 {
		i = len(sorted) - 1
	}
	return sorted[i]
}
