package network

import (
	"context"
	"os"
	"path/filepath"
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
// network (no ports), with the time spent in each plugin.
func BenchmarkDefaultNetwork(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	te := timingExec{DefaultExec: &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}}, spent: map[string]time.Duration{}}
	pluginExec = te
	defer func() { pluginExec = nil }()
	var setup, teardown time.Duration
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
		setup += t1.Sub(t0)
		teardown += time.Since(t1)
	}
	b.ReportMetric(float64(setup.Microseconds())/1000/float64(b.N), "setup-ms/op")
	b.ReportMetric(float64(teardown.Microseconds())/1000/float64(b.N), "teardown-ms/op")
	for p, d := range te.spent {
		b.ReportMetric(float64(d.Microseconds())/1000/float64(b.N), "ms-in-"+filepath.Base(p)+"/op")
	}
}
