package trust

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

// writeKeyFile writes data as the key file name for prefix in the local dir.
func writeKeyFile(t *testing.T, d dirs, prefix, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(prefixPath(d.local, prefix), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadKeyFiles: each file here was loaded on trust and verified (or
// silently used for its first key only) before; now each is a bad key file
// that stops verification for the names its directory covers, naming the
// file, the reason and the fix.
func TestBadKeyFiles(t *testing.T) {
	a := trusttest.NewKey(t, "A <a@example.com>")
	b := trusttest.NewKey(t, "B <b@example.com>")
	tests := []struct {
		name string
		file string // the file name; "" is a's fingerprint
		data []byte
		want error
	}{
		{"named by another fingerprint", b.Fingerprint, a.ArmoredPublic(t), ErrKeyFileName},
		{"named in upper case", strings.ToUpper(a.Fingerprint), a.ArmoredPublic(t), ErrKeyFileName},
		{"not named by a fingerprint", "mykey.asc", a.ArmoredPublic(t), ErrKeyFileName},
		{"two armored keys", "", append(a.ArmoredPublic(t), b.ArmoredPublic(t)...), ErrNotOneKey},
		{"two binary keys", "", append(a.PublicBinary(t), b.PublicBinary(t)...), ErrNotOneKey},
		{"text after the armored key", "", append(a.ArmoredPublic(t), "and then some\n"...), ErrNotOneKey},
		{"larger than the cap", "", append(a.ArmoredPublic(t), bytes.Repeat([]byte("\n"), MaxKeySize)...), ErrKeyFileTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDirs(t)
			file := tt.file
			if file == "" {
				file = a.Fingerprint
			}
			p := writeKeyFile(t, d, "example.com", file, tt.data)
			_, err := verify(t, d.ks, "example.com/app", a.Sign(t, image), image, time.Now())
			var kf *KeyFileError
			if !errors.As(err, &kf) || !errors.Is(err, tt.want) || kf.Path != p {
				t.Fatalf("verify: err = %v, want a *KeyFileError for %s wrapping %v", err, p, tt.want)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "remove the file") {
				t.Errorf("verify: error %q does not name the file and the fix", err)
			}
			if _, ferr := NormalizeFingerprint(file); ferr == nil && file == strings.ToLower(file) &&
				!strings.Contains(err.Error(), "rkt trust --prefix example.com --remove "+file) {
				t.Errorf("verify: error %q does not give the rkt trust --remove command", err)
			}
		})
	}
}

// TestListSkipsBadKeyFiles: one bad file no longer hides every other key
// from List; it is named apart.
func TestListSkipsBadKeyFiles(t *testing.T) {
	d := newDirs(t)
	a := trusttest.NewKey(t, "A")
	b := trusttest.NewKey(t, "B")
	trusttest.WriteKeyring(t, d.local, "", a)
	trusttest.WriteKeyring(t, d.system, "example.com/app", b)
	badPath := writeKeyFile(t, d, "example.com", a.Fingerprint, []byte("not a key"))

	infos, err := d.ks.List()
	var bad *BadKeyFilesError
	if !errors.As(err, &bad) || len(bad.Files) != 1 || bad.Files[0].Path != badPath ||
		bad.Files[0].Prefix != "example.com" || bad.Files[0].Scope != ScopeLocal || bad.Files[0].Name != a.Fingerprint {
		t.Fatalf("List: err = %#v, want a *BadKeyFilesError naming only %s", err, badPath)
	}
	if len(infos) != 2 || infos[0].Fingerprint != a.Fingerprint || infos[1].Fingerprint != b.Fingerprint {
		t.Fatalf("List = %+v, want keys a (root) and b (example.com/app)", infos)
	}

	// Verification fails closed only where the bad file is in the keyring.
	if _, err := verify(t, d.ks, "example.com/app", b.Sign(t, image), image, time.Now()); !errors.As(err, new(*KeyFileError)) {
		t.Errorf("example.com/app: err = %v, want the bad key file", err)
	}
	if _, err := verify(t, d.ks, "other.org/app", a.Sign(t, image), image, time.Now()); err != nil {
		t.Errorf("other.org/app: %v", err)
	}

	// Removing it by its name is the fix given.
	if _, err := d.ks.Remove("example.com", a.Fingerprint); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := verify(t, d.ks, "example.com/app", b.Sign(t, image), image, time.Now()); err != nil {
		t.Errorf("after removing the bad file: %v", err)
	}
}

// TestAddReplacesMisnamedFile: Add does not take a file of the right name
// holding another key for the key itself.
func TestAddReplacesMisnamedFile(t *testing.T) {
	d := newDirs(t)
	a := trusttest.NewKey(t, "A")
	b := trusttest.NewKey(t, "B")
	writeKeyFile(t, d, "example.com", a.Fingerprint, append(a.ArmoredPublic(t), b.ArmoredPublic(t)...))
	k, err := ParseKey(a.ArmoredPublic(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, already, err := d.ks.Add("example.com", k); err != nil || already {
		t.Fatalf("Add: already=%v err=%v, want the file replaced", already, err)
	}
	if _, err := verify(t, d.ks, "example.com/app", a.Sign(t, image), image, time.Now()); err != nil {
		t.Errorf("after Add: %v", err)
	}
}
