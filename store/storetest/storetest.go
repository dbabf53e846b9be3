// Package storetest builds ACI images in tests: real tar streams with a
// valid (or a chosen) image manifest, compressed variants, and a catalogue
// of hostile archives that every extractor must refuse.
//
// Invariants: every builder is deterministic (fixed mtimes, ownership and
// entry order), so the same arguments always give the same image ID; nothing
// here touches the disk.
package storetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/appc/spec/schema"
	"github.com/appc/spec/schema/types"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ModTime is the mtime of every entry the builders write.
var ModTime = time.Unix(1500000000, 0).UTC()

// File is one tar entry. A zero Typeflag means a regular file, a zero Mode
// means 0644 for files and 0755 for directories.
type File struct {
	Name     string
	Body     []byte
	Mode     int64
	Typeflag byte
	Linkname string
	Uid, Gid int
	// Devmajor and Devminor are used for character and block devices.
	Devmajor, Devminor int64
	// Xattrs are written as "SCHILY.xattr." PAX records.
	Xattrs map[string]string
}

// Manifest returns a valid image manifest JSON for name, labels and
// dependencies. It panics on an invalid name or label, which is a bug in
// the test.
func Manifest(name string, labels map[string]string, deps ...types.Dependency) []byte {
	im := schema.BlankImageManifest()
	n, err := types.NewACIdentifier(name)
	if err != nil {
		panic("storetest: invalid image name " + name + ": " + err.Error())
	}
	im.Name = *n
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ln, err := types.NewACIdentifier(k)
		if err != nil {
			panic("storetest: invalid label name " + k + ": " + err.Error())
		}
		im.Labels = append(im.Labels, types.Label{Name: *ln, Value: labels[k]})
	}
	im.Dependencies = deps
	b, err := json.Marshal(im)
	if err != nil {
		panic("storetest: marshalling manifest: " + err.Error())
	}
	return b
}

// BuildACI returns an uncompressed ACI: "manifest" (a valid one built from
// name and labels), the "rootfs" directory, then files. File names and
// hardlink targets are relative to rootfs/ ("bin/sh" becomes "rootfs/bin/sh");
// symlink targets are written as given.
func BuildACI(t testing.TB, name string, labels map[string]string, files ...File) []byte {
	t.Helper()
	return BuildACIWithManifest(t, Manifest(name, labels), files...)
}

// BuildACIWithManifest is BuildACI with the manifest bytes given as is
// (they need not be valid).
func BuildACIWithManifest(t testing.TB, manifest []byte, files ...File) []byte {
	t.Helper()
	entries := []File{
		{Name: "manifest", Body: manifest, Mode: 0o644},
		{Name: "rootfs", Typeflag: tar.TypeDir, Mode: 0o755},
	}
	for _, f := range files {
		f.Name = "rootfs/" + f.Name
		if f.Typeflag == tar.TypeLink {
			f.Linkname = "rootfs/" + f.Linkname
		}
		entries = append(entries, f)
	}
	return RawTar(t, entries...)
}

// RawTar writes entries exactly as given, including hostile names and links.
func RawTar(t testing.TB, entries ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Typeflag
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.Mode
		if mode == 0 {
			mode = 0o644
			if typ == tar.TypeDir {
				mode = 0o755
			}
		}
		hdr := &tar.Header{
			Typeflag: typ,
			Name:     e.Name,
			Linkname: e.Linkname,
			Mode:     mode,
			Uid:      e.Uid,
			Gid:      e.Gid,
			ModTime:  ModTime,
			Devmajor: e.Devmajor,
			Devminor: e.Devminor,
			Format:   tar.FormatPAX,
		}
		for k, v := range e.Xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("writing tar header %q: %v", e.Name, err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatalf("writing tar entry %q: %v", e.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar: %v", err)
	}
	return buf.Bytes()
}

// ImageID is the store key of an uncompressed ACI: "sha512-" and the first
// 64 hex digits of its sha512.
func ImageID(aci []byte) string {
	sum := sha512.Sum512(aci)
	return "sha512-" + hex.EncodeToString(sum[:32])
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b) // writes to a bytes.Buffer cannot fail
	zw.Close()
	return buf.Bytes()
}

// Xz compresses b. (The standard library cannot write bzip2, so there is no
// Bzip2 builder.)
func Xz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatalf("starting xz: %v", err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatalf("writing xz: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing xz: %v", err)
	}
	return buf.Bytes()
}

// Zstd compresses b.
func Zstd(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatalf("starting zstd: %v", err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatalf("writing zstd: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("closing zstd: %v", err)
	}
	return buf.Bytes()
}

// Hostile is a named archive that a safe extractor must refuse.
type Hostile struct {
	Name    string
	Entries []File // pass to RawTar
}

// HostileCases lists archives that try to leave the destination or the
// image layout. Each starts with a valid manifest and rootfs directory, so
// only the hostile entry is at fault:
//
//   - dotdot: "../x"
//   - absolute: "/abs"
//   - rootfs-dotdot: "rootfs/../../x"
//   - symlink-abs-then-write: rootfs/l -> /etc, then rootfs/l/passwd
//   - symlink-up-then-write: rootfs/l -> ../../.., then rootfs/l/x
//   - hardlink-abs: rootfs/h => /etc/passwd
//   - hardlink-up: rootfs/h => ../../outside
//   - hardlink-missing: rootfs/h => rootfs/nothing (no earlier entry)
//   - outside-rootfs: "other/x"
//   - device-outside-rootfs: a character device "null" beside rootfs
//
// A character device inside rootfs is allowed (rkt extracted them as root).
func HostileCases() []Hostile {
	head := func(es ...File) []File {
		return append([]File{
			{Name: "manifest", Body: Manifest("example.com/hostile", nil)},
			{Name: "rootfs", Typeflag: tar.TypeDir},
		}, es...)
	}
	return []Hostile{
		{"dotdot", head(File{Name: "../x", Body: []byte("x")})},
		{"absolute", head(File{Name: "/abs", Body: []byte("x")})},
		{"rootfs-dotdot", head(File{Name: "rootfs/../../x", Body: []byte("x")})},
		{"symlink-abs-then-write", head(
			File{Name: "rootfs/l", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
			File{Name: "rootfs/l/passwd", Body: []byte("root::0:0::/:/bin/sh\n")},
		)},
		{"symlink-up-then-write", head(
			File{Name: "rootfs/l", Typeflag: tar.TypeSymlink, Linkname: "../../.."},
			File{Name: "rootfs/l/x", Body: []byte("x")},
		)},
		{"hardlink-abs", head(File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"})},
		{"hardlink-up", head(File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: "../../outside"})},
		{"hardlink-missing", head(File{Name: "rootfs/h", Typeflag: tar.TypeLink, Linkname: "rootfs/nothing"})},
		{"outside-rootfs", head(File{Name: "other/x", Body: []byte("x")})},
		{"device-outside-rootfs", head(File{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3})},
	}
}

// SparseACI returns an uncompressed ACI whose rootfs holds one file,
// "sparse", stored as a PAX (GNU 0.1) sparse entry: logical bytes long,
// of which only the last 4 KiB are data ('x') and the rest is a hole. The
// archive is a few KiB whatever logical is. archive/tar does not write
// sparse entries, so the extended header is written here by hand.
func SparseACI(t testing.TB, name string, labels map[string]string, logical int64) []byte {
	t.Helper()
	const data = 4096
	if logical < data {
		t.Fatalf("SparseACI: logical size %d is less than %d", logical, data)
	}
	return SparseMapACI(t, name, labels, logical, []int64{logical - data, data}, data)
}

// SparseMapACI is SparseACI with the PAX 0.1 sparse map given as
// offset,length pairs and data bytes of stored data, neither checked: it
// makes entries whose map does not match their data, or lies beyond the
// logical size, as a hostile archive would.
func SparseMapACI(t testing.TB, name string, labels map[string]string, logical int64, sparseMap []int64, data int) []byte {
	t.Helper()
	fields := make([]string, len(sparseMap))
	for i, v := range sparseMap {
		fields[i] = strconv.FormatInt(v, 10)
	}
	pax := paxRecord("GNU.sparse.major", "0") + paxRecord("GNU.sparse.minor", "1") +
		paxRecord("GNU.sparse.name", "rootfs/sparse") +
		paxRecord("GNU.sparse.size", strconv.FormatInt(logical, 10)) +
		paxRecord("GNU.sparse.numblocks", strconv.Itoa(len(sparseMap)/2)) +
		paxRecord("GNU.sparse.map", strings.Join(fields, ","))

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(h *tar.Header, body []byte) {
		h.ModTime, h.Format = ModTime, tar.FormatUSTAR
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("writing tar header %q: %v", h.Name, err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatalf("writing tar entry %q: %v", h.Name, err)
		}
		if err := tw.Flush(); err != nil {
			t.Fatalf("writing tar entry %q: %v", h.Name, err)
		}
	}
	m := Manifest(name, labels)
	put(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest", Mode: 0o644, Size: int64(len(m))}, m)
	put(&tar.Header{Typeflag: tar.TypeDir, Name: "rootfs", Mode: 0o755}, nil)
	xhdr := buf.Len()
	put(&tar.Header{Typeflag: tar.TypeReg, Name: "rootfs/PaxHeaders/sparse", Mode: 0o644, Size: int64(len(pax))}, []byte(pax))
	put(&tar.Header{Typeflag: tar.TypeReg, Name: "rootfs/GNUSparseFile/sparse", Mode: 0o644, Size: int64(data)}, bytes.Repeat([]byte{'x'}, data))
	if err := tw.Close(); err != nil {
		t.Fatalf("closing tar: %v", err)
	}
	out := buf.Bytes()
	// Turn the record-carrying entry into a PAX extended header ('x') and
	// fix its checksum (the sum of the header's bytes, the checksum field
	// counted as spaces).
	h := out[xhdr : xhdr+512]
	h[156] = tar.TypeXHeader
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return out
}

// paxRecord is one PAX record: "<length> <key>=<value>\n", the length
// counting itself.
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	n += len(strconv.Itoa(n))
	if len(strconv.Itoa(n)) != len(strconv.Itoa(n-1)) && n-len(strconv.Itoa(n-1)) > 0 {
		n = len(k) + len(v) + 3 + len(strconv.Itoa(n))
	}
	return strconv.Itoa(n) + " " + k + "=" + v + "\n"
}

// Bomb returns a compressed ACI ("gzip" or "zstd") whose rootfs holds one
// regular file, "zeros", of size zero bytes: a decompression bomb, a few
// hundred KiB (gzip) or less (zstd) that expands to size. It is built as a
// stream, never held uncompressed.
func Bomb(t testing.TB, name string, size int64, compression string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw io.WriteCloser
	switch compression {
	case "gzip":
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	case "zstd":
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		if err != nil {
			t.Fatal(err)
		}
		zw = w
	default:
		t.Fatalf("Bomb: unknown compression %q", compression)
	}
	tw := tar.NewWriter(zw)
	m := Manifest(name, nil)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeReg, Name: "manifest", Mode: 0o644, Size: int64(len(m))},
		{Typeflag: tar.TypeDir, Name: "rootfs", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "rootfs/zeros", Mode: 0o644, Size: size},
	} {
		h.ModTime = ModTime
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		switch h.Name {
		case "manifest":
			tw.Write(m)
		case "rootfs/zeros":
			if _, err := io.CopyN(tw, zeros{}, size); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
