package pod

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/appc/spec/schema"

	"github.com/rkt/rkt/common/podlayout"
	"github.com/rkt/rkt/stage0/metadata"
)

// TestRemoveUnregistersFromMetadataService: removing a pod that registered
// frees its UUID at the service (a second registration is accepted), and
// a removal without a service running still succeeds.
func TestRemoveUnregistersFromMetadataService(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mds.sock")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- metadata.Serve(ctx, metadata.Options{SocketPath: sock, Ready: func(a net.Addr) { ready <- a }})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serving: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("metadata service not ready after 10s")
	}

	dataDir := t.TempDir()
	register := func(p *Pod) error {
		_, err := metadata.Register(context.Background(), sock, metadata.Registration{UUID: p.UUID, Manifest: schema.BlankPodManifest()})
		return err
	}
	p, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := register(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.Path, podlayout.MdsTokenFile), []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.Prepared(); err != nil {
		t.Fatal(err)
	}
	if err := register(p); !errors.Is(err, metadata.ErrAlreadyRegistered) {
		t.Fatalf("second registration before removal: %v, want ErrAlreadyRegistered", err)
	}
	if err := mustGet(t, dataDir, p.UUID).Remove(context.Background(), GCOptions{MDSSocket: sock}); err != nil {
		t.Fatal(err)
	}
	if err := register(p); err != nil {
		t.Errorf("registration after the pod was removed: %v (it was not unregistered)", err)
	}

	// No service: the pod is removed all the same.
	q, err := Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q.Path, podlayout.MdsTokenFile), []byte("token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := q.Abort(); err != nil {
		t.Fatal(err)
	}
	res, err := GC(context.Background(), dataDir, GCOptions{MDSSocket: filepath.Join(t.TempDir(), "none.sock")})
	if err != nil || len(res.Removed) != 1 {
		t.Errorf("gc without a metadata service: removed %v, %v", res.Removed, err)
	}
}
