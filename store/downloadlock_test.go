package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLockDownloadTakesTurnsAndHonoursContext(t *testing.T) {
	dir := t.TempDir()
	s1, s2 := openStore(t, dir), openStore(t, dir)
	const url = "https://example.com/app.aci"
	first, waited, err := s1.LockDownload(context.Background(), url, nil)
	if err != nil || waited {
		t.Fatalf("first lock: waited %v, err %v", waited, err)
	}
	// Another source is independent.
	other, waited, err := s2.LockDownload(context.Background(), url+".other", nil)
	if err != nil || waited {
		t.Fatalf("lock of another source: waited %v, err %v", waited, err)
	}
	other.Close()

	// A waiter is told once, and its context ends the wait.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	told := 0
	_, waited, err = s2.LockDownload(ctx, url, func() { told++ })
	if !errors.Is(err, context.DeadlineExceeded) || !waited || told != 1 {
		t.Fatalf("waiting on a held lock: waited %v, told %d, err %v; want a deadline error after one notice", waited, told, err)
	}

	// Released, the waiter gets it and learns that it waited.
	go func() {
		time.Sleep(100 * time.Millisecond)
		first.Close()
	}()
	second, waited, err := s2.LockDownload(context.Background(), url, nil)
	if err != nil || !waited {
		t.Fatalf("second lock: waited %v, err %v; want it to wait for the first", waited, err)
	}
	second.Close()
}
