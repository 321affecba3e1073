package up_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/leynos/gitops-local/bootstrap/internal/testenv"
	"github.com/leynos/gitops-local/bootstrap/progress"
	"github.com/leynos/gitops-local/bootstrap/up"
)

// BenchmarkUp measures up on a fresh test control plane until everything is
// Ready (target: under 30 s), and a re-run with nothing changed (target:
// under 3 s). Run it with:
//
//	go test -run '^$' -bench BenchmarkUp -benchtime 3x ./bootstrap/up
func BenchmarkUp(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		env := testenv.Start(ctx, b)
		c := testenv.Client(b, env)
		cache := seededCache(b)
		standCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		standInForOperators(standCtx, b, c, &wg)
		opts := up.Options{
			RepoRoot: filepath.Join("..", ".."), Config: env.Config,
			RegistryPush: env.RegistryPush, RegistryPull: env.RegistryPull,
			Charts: cache, Timeout: 5 * time.Minute,
		}
		rep := progress.New(discard{}, false)

		start := time.Now()
		b.StartTimer()
		if _, err := up.Run(ctx, rep, opts); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fresh := time.Since(start)

		start = time.Now()
		if _, err := up.Run(ctx, rep, opts); err != nil {
			b.Fatal(err)
		}
		rerun := time.Since(start)
		b.ReportMetric(fresh.Seconds(), "s/fresh-up")
		b.ReportMetric(rerun.Seconds(), "s/no-change-up")
		stop()
		wg.Wait()
		cancel()
		if err := env.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
