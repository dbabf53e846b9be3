package network

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/google/uuid"
)

// timingExec runs the real plugins and adds up the time spent in each.
type timingExec struct {
	*invoke.DefaultExec
	spent map[string]time.Duration
}

func (e timingExec) ExecPlugin(ctx context.Context, pluginPath string, stdinData []byte, environ []string) ([]byte, error) {
	t0 := time.Now()
	b, err := e.DefaultExec.ExecPlugin(ctx, pluginPath, stdinData, environ)
	e.spent[pluginPath] += time.Since(t0)
	return b, err
}

// BenchmarkDefaultNetwork measures Setup and Teardown of the default
// network (no ports), in process (what Setup does) and through the ptp and
// host-local plugins (what it did before), reporting medians and the time
// spent in each plugin.
func BenchmarkDefaultNetwork(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, inProcess := range []bool{true, false} {
		name := "plugins"
		if inProcess {
			name = "inprocess"
		}
		b.Run(name, func(b *testing.B) {
			inProcessBuiltins = inProcess
			defer func() { inProcessBuiltins = true }()
			benchmarkDefault(b)
		})
	}
}

func benchmarkDefault(b *testing.B) {
	te := timingExec{DefaultExec: &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}, spent: map[string]time.Duration{}}
	pluginExec = te
	defer func() { pluginExec = nil }()
	var setup, teardown []time.Duration
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		cfg := Config{PodUUID: uuid.NewString(), PodDir: dir}
		t0 := time.Now()
		if _, err := Setup(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := Teardown(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
		setup = append(setup, t1.Sub(t0))
		teardown = append(teardown, time.Since(t1))
	}
	b.ReportMetric(median(setup), "setup-ms-median")
	b.ReportMetric(median(teardown), "teardown-ms-median")
	for p, d := range te.spent {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), "ms-in-"+filepath.Base(p)+"/op")
	}
}

// median of ds, in milliseconds.
func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + m) / 2
	}
	return float64(m.Microseconds()) / 1000
}
