package seccomp

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

func TestEncodeDecode(t *testing.T) {
	f, err := Compile(Profile{Mode: ModeRemove, Syscalls: []string{"chmod"}, Errno: "EPERM"})
	if err != nil {
		t.Fatal(err)
	}
	data := Encode(f)
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, f) {
		t.Fatal("decoded filter differs")
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)-3] ^= 1
	for name, bad := range map[string][]byte{
		"flipped bit": flipped,
		"truncated":   data[:len(data)-8],
		"empty":       nil,
		"bad magic":   append([]byte("NOTBPF01"), data[8:]...),
	} {
		if _, err := Decode(bad); !errors.Is(err, ErrCorruptCache) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCache(t *testing.T) {
	c := Cache{Dir: t.TempDir() + "/seccomp"}
	p := Profile{Mode: ModeDefault}
	start := time.Now()
	f1, hit, err := c.Load(p)
	miss := time.Since(start)
	if err != nil || hit {
		t.Fatalf("first load: hit %v, %v", hit, err)
	}
	start = time.Now()
	f2, hit, err := c.Load(p)
	hitTime := time.Since(start)
	if err != nil || !hit {
		t.Fatalf("second load: hit %v, %v", hit, err)
	}
	if !slices.Equal(f1, f2) {
		t.Fatal("cached filter differs from the compiled one")
	}
	t.Logf("default profile: %d instructions; compile and store %v, load from cache %v", len(f1), miss, hitTime)

	// A damaged entry is compiled again and replaced.
	if err := os.WriteFile(c.Path(p), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	f3, hit, err := c.Load(p)
	if err != nil || hit || !slices.Equal(f3, f1) {
		t.Fatalf("load of a damaged entry: hit %v, err %v", hit, err)
	}
	if _, hit, _ := c.Load(p); !hit {
		t.Error("damaged entry was not replaced")
	}

	// Another profile, another entry.
	q := Profile{Mode: ModeRetain, Syscalls: []string{"read"}}
	if c.Path(q) == c.Path(p) {
		t.Fatal("two profiles share a cache file")
	}
	if _, hit, err := c.Load(q); err != nil || hit {
		t.Fatalf("other profile: hit %v, %v", hit, err)
	}
}

func BenchmarkCacheLoad(b *testing.B) {
	c := Cache{Dir: b.TempDir()}
	p := Profile{Mode: ModeDefault}
	if _, _, err := c.Load(p); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := c.Load(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	p := Profile{Mode: ModeDefault}
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}
