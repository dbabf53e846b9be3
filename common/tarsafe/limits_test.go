package tarsafe

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// A 100 GiB sparse entry is a few KiB of tar: the size limit counts its
// logical length, from the header, before anything is written.
func TestLimitsCountSparseEntriesAtFullLength(t *testing.T) {
	aci := storetest.SparseACI(t, "example.com/sparse", nil, 100<<30)
	if len(aci) > 64<<10 {
		t.Fatalf("the sparse ACI is %d bytes, want a few KiB", len(aci))
	}
	lim := Limits{MaxSize: 1 << 30}
	var le *LimitError
	if _, err := Check(bytes.NewReader(aci), lim); !errors.As(err, &le) || le.Limit != LimitSize || !errors.Is(err, ErrLimit) {
		t.Fatalf("Check: got %v, want a size *LimitError", err)
	}
	dest := t.TempDir()
	if _, err := Extract(bytes.NewReader(aci), dest, Options{Limits: lim}); !errors.As(err, &le) || le.Limit != LimitSize {
		t.Fatalf("Extract: got %v, want a size *LimitError", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "rootfs", "sparse")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused entry was written: %v", err)
	}
}

func TestLimitsBoundTheEntries(t *testing.T) {
	var files []storetest.File
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		files = append(files, storetest.File{Name: n, Body: []byte(n)})
	}
	aci := storetest.BuildACI(t, "example.com/many", nil, files...)
	var le *LimitError
	if _, err := Check(bytes.NewReader(aci), Limits{MaxEntries: 4}); !errors.As(err, &le) || le.Limit != LimitEntries {
		t.Fatalf("Check: got %v, want an entries *LimitError", err)
	}
	dest := t.TempDir()
	if _, err := Extract(bytes.NewReader(aci), dest, Options{Limits: Limits{MaxEntries: 4}}); !errors.As(err, &le) {
		t.Fatalf("Extract: got %v, want an entries *LimitError", err)
	}
	if _, err := os.Lstat(filepath.Join(dest, "rootfs", "c")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an entry past the limit was written: %v", err)
	}
	// manifest, rootfs and five files: seven entries.
	if _, err := Check(bytes.NewReader(aci), Limits{MaxEntries: 7, MaxSize: 5}); err != nil {
		t.Fatalf("Check at the limits: %v", err)
	}
	if _, err := Check(bytes.NewReader(aci), Limits{MaxSize: 4}); !errors.As(err, &le) || le.Limit != LimitSize {
		t.Fatalf("Check: got %v, want a size *LimitError", err)
	}
}

// allocated is the disk space a file takes.
func allocated(t *testing.T, p string) (size, used int64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Size, st.Blocks * 512
}

func TestSparseEntriesAreWrittenSparse(t *testing.T) {
	const logical = 256 << 20
	aci := storetest.SparseACI(t, "example.com/sparse", nil, logical)
	dest := t.TempDir()
	res, err := Extract(bytes.NewReader(aci), dest, Options{Record: true, Limits: Limits{MaxSize: logical}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dest, "rootfs", "sparse")
	size, used := allocated(t, p)
	if size != logical || used > 1<<20 {
		t.Fatalf("sparse entry: size %d, %d bytes allocated; want size %d and at most 1 MiB allocated", size, used, logical)
	}
	want := sha256.New()
	io.CopyN(want, zeroReader{}, logical-4096)
	want.Write(bytes.Repeat([]byte{'x'}, 4096))
	got := sha256.New()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	io.Copy(got, f)
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("sparse entry content differs")
	}
	for _, r := range res.Files {
		if r.Path == "sparse" && !bytes.Equal(r.SHA256[:], want.Sum(nil)) {
			t.Fatal("sparse entry record has the wrong digest")
		}
	}
	if res.Size != logical {
		t.Fatalf("Result.Size = %d, want %d", res.Size, logical)
	}
}

// Long zero runs of a plain file become holes; its content is unchanged,
// and a file ending in zeros keeps its length.
func TestZeroRunsBecomeHoles(t *testing.T) {
	body := make([]byte, 8<<20)
	copy(body, "head")
	copy(body[4<<20:], "middle")
	aci := storetest.BuildACI(t, "example.com/zeros", nil, storetest.File{Name: "z", Body: body})
	dest := t.TempDir()
	if _, err := Extract(bytes.NewReader(aci), dest, Options{}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dest, "rootfs", "z")
	size, used := allocated(t, p)
	if size != int64(len(body)) || used > 1<<20 {
		t.Fatalf("zero-filled file: size %d, %d bytes allocated; want size %d and at most 1 MiB allocated", size, used, len(body))
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatal("content differs")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Prehash's digests stand in for Extract's own hashing: the records are
// the same, and digests of another archive are refused.
func TestPrehashDigestsMatchExtract(t *testing.T) {
	files := []storetest.File{
		{Name: "a", Body: []byte("alpha")},
		{Name: "d", Typeflag: '5'},
		{Name: "d/b", Body: bytes.Repeat([]byte("b"), 3<<20)},
		{Name: "h", Typeflag: '1', Linkname: "a"},
	}
	aci := storetest.BuildACI(t, "example.com/pre", nil, files...)
	digests, err := Prehash(bytes.NewReader(aci), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(digests) != 2 {
		t.Fatalf("%d digests, want 2 (the hardlink is not a file of its own)", len(digests))
	}
	plain, err := Extract(bytes.NewReader(aci), t.TempDir(), Options{Record: true})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := Extract(bytes.NewReader(aci), t.TempDir(), Options{Record: true, Digests: digests})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Files) == 0 || len(plain.Files) != len(pre.Files) {
		t.Fatalf("records: %d without digests, %d with", len(plain.Files), len(pre.Files))
	}
	for i := range plain.Files {
		if plain.Files[i] != pre.Files[i] {
			t.Errorf("record %d: %+v without digests, %+v with", i, plain.Files[i], pre.Files[i])
		}
	}
	other := storetest.BuildACI(t, "example.com/pre", nil, storetest.File{Name: "a", Body: []byte("alphabet")})
	if _, err := Extract(bytes.NewReader(other), t.TempDir(), Options{Record: true, Digests: digests}); err == nil {
		t.Fatal("digests of another archive were accepted")
	}
}

// A sparse entry whose map does not match its data is refused by Check as
// by Extract and Prehash: Check must not pass an image that extraction
// would refuse. The archives are real PAX (GNU 0.1) sparse entries.
func TestSparseMapMismatchRefusedAlike(t *testing.T) {
	const logical = 1 << 20
	cases := []struct {
		name      string
		sparseMap []int64
		data      int
	}{
		{"offset-beyond-size", []int64{logical + 4096, 4096}, 4096},
		{"region-beyond-size", []int64{logical - 4096, 8192}, 8192},
		{"overlapping", []int64{0, 8192, 4096, 4096}, 12288},
		{"unsorted", []int64{8192, 4096, 0, 4096}, 8192},
		{"less-data-than-regions", []int64{0, 8192}, 4096},
		{"more-data-than-regions", []int64{0, 4096}, 8192},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			aci := storetest.SparseMapACI(t, "example.com/sparse", nil, logical, c.sparseMap, c.data)
			_, cerr := Check(bytes.NewReader(aci), Limits{})
			_, xerr := Extract(bytes.NewReader(aci), t.TempDir(), Options{})
			_, perr := Prehash(bytes.NewReader(aci), Limits{})
			if cerr == nil || xerr == nil || perr == nil {
				t.Fatalf("Check: %v; Extract: %v; Prehash: %v; want all three to refuse", cerr, xerr, perr)
			}
		})
	}
	// The same builder with a matching map is accepted by all three, so
	// the refusals above are about the map.
	good := storetest.SparseMapACI(t, "example.com/sparse", nil, logical, []int64{0, 4096, logical - 4096, 4096}, 8192)
	if _, err := Check(bytes.NewReader(good), Limits{}); err != nil {
		t.Fatalf("Check refused a matching sparse map: %v", err)
	}
	if _, err := Extract(bytes.NewReader(good), t.TempDir(), Options{}); err != nil {
		t.Fatalf("Extract refused a matching sparse map: %v", err)
	}
}
