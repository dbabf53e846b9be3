package tarsafe

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rkt/rkt/store/storetest"
)

// tarSeeds adds the seeds of FuzzCheck and FuzzExtract: the hostile cases
// of storetest, archives built here, and archives written by GNU tar in
// each of its formats, with xattrs, GNU and PAX sparse files and hostile
// names (testdata/*.tar).
func tarSeeds(f *testing.F) {
	f.Helper()
	for _, hc := range storetest.HostileCases() {
		f.Add(storetest.RawTar(f, hc.Entries...))
	}
	f.Add(storetest.BuildACI(f, "example.com/fuzz", map[string]string{"version": "1.0"},
		storetest.File{Name: "bin", Typeflag: tar.TypeDir, Mode: 0o750},
		storetest.File{Name: "bin/tool", Body: []byte("#!/bin/sh\n"), Mode: 0o4755, Uid: 10, Gid: 20},
		storetest.File{Name: "bin/same", Typeflag: tar.TypeLink, Linkname: "bin/tool"},
		storetest.File{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/usr/lib"},
		storetest.File{Name: "alias", Typeflag: tar.TypeSymlink, Linkname: "bin"},
		storetest.File{Name: "alias/through", Body: []byte("written through an inside symlink")},
		storetest.File{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		storetest.File{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600},
		storetest.File{Name: "bin/tool", Body: []byte("replaced")},
		storetest.File{Name: "lib", Typeflag: tar.TypeDir},
	))
	f.Add(storetest.BuildACI(f, "example.com/records", nil,
		storetest.File{Name: "a/b", Body: []byte("12")},
		storetest.File{Name: "a-b", Body: []byte("345")},
		storetest.File{Name: "a.b/c", Typeflag: tar.TypeSymlink, Linkname: "../a"},
		storetest.File{Name: "a", Typeflag: tar.TypeSymlink, Linkname: "a-b"},
	))
	tars, err := filepath.Glob(filepath.Join("testdata", "*.tar"))
	if err != nil || len(tars) == 0 {
		f.Fatalf("no seed archives in testdata (%v)", err)
	}
	for _, p := range tars {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzLimits bound what one fuzz input may extract to: sparse entries
// declare any size in a few bytes, and are read (holes as zeros) in full.
var fuzzLimits = Limits{MaxSize: 16 << 20, MaxEntries: 4096}

// FuzzCheck feeds arbitrary bytes to Check, in memory, as an image's
// decompressed tar stream reaches it, and to Prehash. Properties: no
// panic; every error is an *EntryError, a *LimitError or the tar reader's
// own error (a malformed header, a truncated stream); an accepted archive
// has a bounded manifest and stays within the limits, counting sparse
// files at their full size; Prehash refuses what Check refuses, and of
// what Check accepts refuses only archives whose file contents do not
// read (Check does not read them), digesting as many bytes as Check
// counts.
func FuzzCheck(f *testing.F) {
	tarSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Check(bytes.NewReader(data), fuzzLimits)
		digests, perr := Prehash(bytes.NewReader(data), fuzzLimits)
		if perr != nil {
			checkErrorType(t, "Prehash", perr)
		}
		if err != nil {
			checkErrorType(t, "Check", err)
			if perr == nil {
				t.Fatalf("Prehash accepted what Check refused: %v", err)
			}
			return
		}
		if perr != nil {
			// Check reads sparse entries as Prehash does, so a map that
			// does not match its data is refused by both.
			t.Fatalf("Prehash refused what Check accepted: %v", perr)
		}
		if len(res.Manifest) > MaxManifestSize {
			t.Fatalf("Check kept a manifest of %d bytes", len(res.Manifest))
		}
		if res.Size < 0 || res.Size > fuzzLimits.MaxSize || res.Entries > fuzzLimits.MaxEntries {
			t.Fatalf("Check accepted %d entries, %d bytes of files, beyond %+v", res.Entries, res.Size, fuzzLimits)
		}
		var total int64
		for _, d := range digests {
			total += d.Size
		}
		if total != res.Size {
			t.Fatalf("Prehash digested %d bytes, Check counted %d", total, res.Size)
		}
	})
}

// FuzzExtract feeds arbitrary bytes to Check and Extract, extracting into
// a fresh directory per input. Properties:
//   - neither panics, and every error is of the types FuzzCheck allows;
//   - whatever Check refuses, Extract refuses;
//   - when both accept, they agree on the manifest, entries and size;
//   - nothing is written outside the destination, whatever the archive;
//   - when Extract describes the tree (Options.Record), the description is
//     exactly what lstat(2) and the file contents say;
//   - the manifest written is the manifest returned.
//
// Both run with fuzzLimits.
func FuzzExtract(f *testing.F) {
	tarSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cres, cerr := Check(bytes.NewReader(data), fuzzLimits)
		if cerr != nil {
			checkErrorType(t, "Check", cerr)
		}

		base := t.TempDir()
		dest := filepath.Join(base, "dest")
		outside := filepath.Join(base, "outside")
		for _, d := range []string{dest, outside} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		canary := []byte("the destination's neighbour")
		if err := os.WriteFile(filepath.Join(outside, "canary"), canary, 0o644); err != nil {
			t.Fatal(err)
		}

		xres, xerr := Extract(bytes.NewReader(data), dest, Options{Record: true, Limits: fuzzLimits})
		if xerr != nil {
			checkErrorType(t, "Extract", xerr)
		}
		checkNothingOutside(t, base, outside, canary)
		if cerr != nil && xerr == nil {
			t.Fatalf("Check refused (%v) what Extract accepted", cerr)
		}
		if xerr != nil {
			return
		}
		if cerr == nil {
			if !bytes.Equal(cres.Manifest, xres.Manifest) || cres.Entries != xres.Entries || cres.Size != xres.Size {
				t.Fatalf("Check and Extract disagree: %d entries, %d bytes vs %d entries, %d bytes",
					cres.Entries, cres.Size, xres.Entries, xres.Size)
			}
		}
		if xres.Manifest != nil {
			b, err := os.ReadFile(filepath.Join(dest, ManifestName))
			if err != nil || !bytes.Equal(b, xres.Manifest) {
				t.Fatalf("manifest on disk differs from the one returned (%v)", err)
			}
		}
		if xres.Files != nil {
			checkRecords(t, filepath.Join(dest, RootfsName), xres.Files)
		}
	})
}

// checkErrorType accepts the errors Check and Extract document: refusals
// (*EntryError), limits crossed (*LimitError) and the tar reader's errors
// about the stream itself.
func checkErrorType(t *testing.T, what string, err error) {
	t.Helper()
	var ee *EntryError
	var le *LimitError
	switch {
	case errors.As(err, &ee), errors.As(err, &le):
	case errors.Is(err, tar.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF):
	case strings.Contains(err.Error(), "archive/tar: "):
		// archive/tar's errors about sparse maps have no exported type.
	default:
		t.Fatalf("%s: untyped error %T: %v", what, err, err)
	}
}

// checkNothingOutside checks that base holds only dest and outside, and
// that outside holds only the canary, unchanged.
func checkNothingOutside(t *testing.T, base, outside string, canary []byte) {
	t.Helper()
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := names(base); !slices.Equal(got, []string{"dest", "outside"}) {
		t.Fatalf("written next to the destination: %q", got)
	}
	if got := names(outside); !slices.Equal(got, []string{"canary"}) {
		t.Fatalf("written outside the destination: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "canary")); err != nil || !bytes.Equal(b, canary) {
		t.Fatalf("file outside the destination changed: %q, %v", b, err)
	}
}

// checkRecords compares Result.Files with a walk of rootfs.
func checkRecords(t *testing.T, rootfs string, files []FileRecord) {
	t.Helper()
	var walked []FileRecord
	err := filepath.WalkDir(rootfs, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(rootfs, p)
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		fr := FileRecord{Path: filepath.ToSlash(rel), Mode: st.Mode, Uid: st.Uid, Gid: st.Gid}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fr.Size, fr.SHA256 = st.Size, sha256.Sum256(b)
		case syscall.S_IFLNK:
			if fr.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFCHR, syscall.S_IFBLK:
			fr.Rdev = st.Rdev
		}
		walked = append(walked, fr)
		return nil
	})
	if err != nil {
		t.Fatalf("walking the extracted tree: %v", err)
	}
	if len(walked) != len(files) {
		t.Fatalf("records describe %d paths, the tree has %d:\nrecords %+v\nwalk    %+v", len(files), len(walked), files, walked)
	}
	for i := range walked {
		if walked[i] != files[i] {
			t.Fatalf("record %d is %+v, the tree has %+v", i, files[i], walked[i])
		}
	}
}
