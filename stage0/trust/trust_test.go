package trust

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/rkt/rkt/stage0/trust/trusttest"
)

var image = []byte("pretend this is an ACI\x00\x01\x02 with binary bytes\n")

type dirs struct {
	system, local string
	ks            *Keystore
}

func newDirs(t *testing.T) dirs {
	t.Helper()
	d := dirs{system: filepath.Join(t.TempDir(), "usr-lib-rkt"), local: filepath.Join(t.TempDir(), "etc-rkt")}
	d.ks = New(d.system, d.local)
	return d
}

// verify runs the whole check the way the fetcher does: parse, stream the
// bytes into the hash, verify.
func verify(t *testing.T, ks *Keystore, name string, sig, data []byte, now time.Time) (*Verdict, error) {
	t.Helper()
	s, err := ParseSignature(sig)
	if err != nil {
		return nil, err
	}
	h := s.NewHash()
	// Feed in two pieces, as a stream would.
	h.Write(data[:len(data)/2])
	h.Write(data[len(data)/2:])
	return ks.Verify(name, s, h, now)
}

func TestPrefixScoping(t *testing.T) {
	d := newDirs(t)
	app := trusttest.NewKey(t, "App Signer <app@example.com>")
	dom := trusttest.NewKey(t, "Domain Signer <dom@example.com>")
	root := trusttest.NewKey(t, "Root Signer <root@example.com>")
	trusttest.WriteKeyring(t, d.local, "example.com/app", app)
	trusttest.WriteKeyring(t, d.local, "example.com", dom)
	trusttest.WriteKeyring(t, d.system, "", root)

	tests := []struct {
		name       string
		key        *trusttest.Key
		image      string
		wantPrefix string
		unknown    bool
	}{
		{"exact prefix", app, "example.com/app", "example.com/app", false},
		{"below prefix", app, "example.com/app/x", "example.com/app", false},
		{"element boundary", app, "example.com/appx", "", true},
		{"sibling", app, "example.com/other", "", true},
		{"parent", app, "example.com", "", true},
		{"domain covers app", dom, "example.com/app", "example.com", false},
		{"domain is not a string prefix", dom, "example.com.evil.org/x", "", true},
		{"root for any name", root, "another.org/thing", "", false},
		{"root for a one-element name", root, "busybox", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify(t, d.ks, tt.image, tt.key.Sign(t, image), image, time.Now())
			if tt.unknown {
				var u *UnknownSignerError
				if !errors.As(err, &u) {
					t.Fatalf("err = %v, want *UnknownSignerError", err)
				}
				if !strings.HasSuffix(err.Error(), "rkt trust --prefix "+tt.image+" "+u.TrustedPath) {
					t.Errorf("message does not end with the fix: %v", err)
				}
				if !strings.Contains(err.Error(), tt.image) {
					t.Errorf("message does not name the image: %v", err)
				}
				if u.TrustedKey != tt.key.Fingerprint {
					t.Errorf("TrustedKey = %s, want %s", u.TrustedKey, tt.key.Fingerprint)
				}
				if len(u.TrustedFor) == 0 || u.TrustedPath == "" {
					t.Errorf("TrustedFor = %v, path %q: the key is trusted elsewhere", u.TrustedFor, u.TrustedPath)
				}
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if v.Prefix != tt.wantPrefix || v.Fingerprint != tt.key.Fingerprint || v.Name != tt.image {
				t.Errorf("verdict %+v, want prefix %q key %s", v, tt.wantPrefix, tt.key.Fingerprint)
			}
			if v.UserID != tt.key.UserID {
				t.Errorf("UserID = %q, want %q", v.UserID, tt.key.UserID)
			}
			if _, err := os.Stat(v.KeyPath); err != nil {
				t.Errorf("KeyPath %q: %v", v.KeyPath, err)
			}
		})
	}
}

func TestUnknownSignerListsSearchedPrefixes(t *testing.T) {
	d := newDirs(t)
	stranger := trusttest.NewKey(t, "Stranger")
	_, err := verify(t, d.ks, "example.com/app/x", stranger.Sign(t, image), image, time.Now())
	var u *UnknownSignerError
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want *UnknownSignerError", err)
	}
	want := []string{"", "example.com", "example.com/app", "example.com/app/x"}
	if strings.Join(u.Searched, "|") != strings.Join(want, "|") {
		t.Errorf("Searched = %q, want %q", u.Searched, want)
	}
	if len(u.TrustedFor) != 0 {
		t.Errorf("TrustedFor = %q, want none", u.TrustedFor)
	}
	if !strings.HasSuffix(err.Error(), "rkt trust --prefix example.com/app/x") {
		t.Errorf("message does not end with the fix: %v", err)
	}
	if u.KeyID != strings.ToLower(u.KeyID) || len(u.KeyID) != 16 {
		t.Errorf("KeyID = %q", u.KeyID)
	}
}

func TestSigners(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "Signer <s@example.com>")
	primaryOnly := trusttest.NewKey(t, "Primary <p@example.com>", trusttest.SignWithPrimaryOnly())
	rsa := trusttest.NewKey(t, "RSA <r@example.com>", trusttest.RSA(2048))
	for _, key := range []*trusttest.Key{k, primaryOnly, rsa} {
		trusttest.WriteKeyring(t, d.local, "example.com", key)
	}
	primaryID := func(k *trusttest.Key) string { return formatKeyID(k.Entity.PrimaryKey.KeyId) }
	tests := []struct {
		name       string
		key        *trusttest.Key
		sig        []byte
		wantSigner string
	}{
		{"signing subkey", k, k.Sign(t, image), formatKeyID(k.Entity.Subkeys[len(k.Entity.Subkeys)-1].PublicKey.KeyId)},
		{"primary key", k, k.Sign(t, image, trusttest.SignWithPrimary()), primaryID(k)},
		{"key without signing subkey", primaryOnly, primaryOnly.Sign(t, image), primaryID(primaryOnly)},
		{"binary signature", k, k.Sign(t, image, trusttest.Binary()), ""},
		{"sha256", k, k.Sign(t, image, trusttest.WithHash(crypto.SHA256)), ""},
		{"rsa", rsa, rsa.Sign(t, image), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify(t, d.ks, "example.com/app", tt.sig, image, time.Now())
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if v.Fingerprint != tt.key.Fingerprint {
				t.Errorf("Fingerprint = %s, want %s", v.Fingerprint, tt.key.Fingerprint)
			}
			if tt.wantSigner != "" && v.SignerKeyID != tt.wantSigner {
				t.Errorf("SignerKeyID = %s, want %s", v.SignerKeyID, tt.wantSigner)
			}
		})
	}
}

func TestTextSignature(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "Text")
	trusttest.WriteKeyring(t, d.local, "", k)
	data := []byte("line one\nline two\n")
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSignText(&sig, k.Entity, bytes.NewReader(data), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := verify(t, d.ks, "example.com/app", sig.Bytes(), data, time.Now()); err != nil {
		t.Fatalf("text signature: %v", err)
	}
	if _, err := verify(t, d.ks, "example.com/app", sig.Bytes(), []byte("line one\nline 2\n"), time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("text signature over other text: err = %v, want ErrBadSignature", err)
	}
}

func TestRefusals(t *testing.T) {
	d := newDirs(t)
	const name = "example.com/app"
	now := time.Now()
	good := trusttest.NewKey(t, "Good")
	expired := trusttest.NewKey(t, "Expired", trusttest.WithExpiry(-time.Minute))
	expiresSoon := trusttest.NewKey(t, "Soon", trusttest.WithExpiry(time.Hour))
	revoked := trusttest.NewKey(t, "Revoked", trusttest.Revoked())
	subRevoked := trusttest.NewKey(t, "Subkey Revoked")
	signing := &subRevoked.Entity.Subkeys[len(subRevoked.Entity.Subkeys)-1]
	if err := subRevoked.Entity.RevokeSubkey(signing, packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*trusttest.Key{good, expired, expiresSoon, revoked, subRevoked} {
		trusttest.WriteKeyring(t, d.local, "example.com", k)
	}
	tampered := append([]byte(nil), image...)
	tampered[3] ^= 0x20

	tests := []struct {
		name string
		sig  []byte
		data []byte
		now  time.Time
		want error
	}{
		{"tampered bytes", good.Sign(t, image), tampered, now, ErrBadSignature},
		{"signature over other data", good.Sign(t, []byte("another image")), image, now, ErrBadSignature},
		{"truncated data", good.Sign(t, image), image[:len(image)-1], now, ErrBadSignature},
		{"expired key", expired.Sign(t, image), image, now, ErrKeyExpired},
		{"key expired at the time given", expiresSoon.Sign(t, image), image, now.Add(2 * time.Hour), ErrKeyExpired},
		{"revoked key", revoked.Sign(t, image), image, now, ErrKeyRevoked},
		{"revoked signing subkey", subRevoked.Sign(t, image), image, now, ErrKeyRevoked},
		{"expired signature", good.Sign(t, image, trusttest.SigExpired()), image, now, ErrSignatureExpired},
		{"signature from the future", good.Sign(t, image, trusttest.SignedAt(now.Add(time.Hour))), image, now, ErrSignatureInFuture},
		{"garbage", trusttest.Garbage(), image, now, ErrGarbageSignature},
		{"empty", nil, image, now, ErrGarbageSignature},
		{"blank", []byte("\n \n"), image, now, ErrGarbageSignature},
		{"a key instead of a signature", good.ArmoredPublic(t), image, now, ErrGarbageSignature},
		{"random binary", []byte{0x89, 0x01, 0x02, 0x03}, image, now, ErrGarbageSignature},
		{"md5", good.Sign(t, image, trusttest.WithHash(crypto.MD5)), image, now, ErrWeakDigest},
		{"sha1", good.Sign(t, image, trusttest.WithHash(crypto.SHA1)), image, now, ErrWeakDigest},
		{"ripemd160", good.Sign(t, image, trusttest.WithHash(crypto.RIPEMD160)), image, now, ErrWeakDigest},
		{"sha224", good.Sign(t, image, trusttest.WithHash(crypto.SHA224)), image, now, ErrWeakDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify(t, d.ks, name, tt.sig, tt.data, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (verdict %+v)", err, tt.want, v)
			}
			if v != nil {
				t.Errorf("refusal came with a verdict: %+v", v)
			}
			var se *SignatureError
			if errors.As(err, &se) {
				if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), se.Fingerprint) || !strings.Contains(err.Error(), `prefix "example.com"`) {
					t.Errorf("message lacks image, key or prefix: %v", err)
				}
			}
		})
	}
	// The good key does verify at the same time: the refusals are the
	// options' doing.
	if _, err := verify(t, d.ks, name, good.Sign(t, image), image, now); err != nil {
		t.Fatalf("control: %v", err)
	}
	if _, err := verify(t, d.ks, name, expiresSoon.Sign(t, image), image, now); err != nil {
		t.Fatalf("control (key expiring later): %v", err)
	}
}

func TestSystemKeysAndMasks(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "Vendor <vendor@example.com>")
	trusttest.WriteKeyring(t, d.system, "example.com", k)
	sig := k.Sign(t, image)
	v, err := verify(t, d.ks, "example.com/app", sig, image, time.Now())
	if err != nil {
		t.Fatalf("system key: %v", err)
	}
	if !strings.HasPrefix(v.KeyPath, d.system) {
		t.Errorf("KeyPath %s not in the system dir", v.KeyPath)
	}

	mask, err := d.ks.Remove("example.com", k.Fingerprint)
	if err != nil {
		t.Fatalf("masking: %v", err)
	}
	if want := filepath.Join(d.local, "trustedkeys/prefix.d/example.com", k.Fingerprint); mask != want {
		t.Errorf("mask at %s, want %s", mask, want)
	}
	if fi, err := os.Stat(mask); err != nil || fi.Size() != 0 {
		t.Fatalf("mask: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(d.system, "trustedkeys/prefix.d/example.com", k.Fingerprint)); err != nil {
		t.Errorf("system key touched: %v", err)
	}
	var u *UnknownSignerError
	if _, err := verify(t, d.ks, "example.com/app", sig, image, time.Now()); !errors.As(err, &u) {
		t.Fatalf("masked key: err = %v, want *UnknownSignerError", err)
	}
	if _, err := d.ks.Remove("example.com", k.Fingerprint); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("masking twice: err = %v, want ErrKeyNotFound", err)
	}
	infos, err := d.ks.List()
	if err != nil || len(infos) != 0 {
		t.Errorf("List after mask = %+v, %v; want nothing", infos, err)
	}

	// Trusting the key again locally replaces the mask.
	pk, err := ParseKey(k.ArmoredPublic(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, already, err := d.ks.Add("example.com", pk); err != nil || already {
		t.Fatalf("re-adding over a mask: already=%v err=%v", already, err)
	}
	if _, err := verify(t, d.ks, "example.com/app", sig, image, time.Now()); err != nil {
		t.Fatalf("after re-adding: %v", err)
	}
}

func TestBadKeyFileIsAnError(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "K")
	trusttest.WriteKeyring(t, d.local, "", k)
	bad := filepath.Join(d.local, "trustedkeys/prefix.d/example.com/0123456789abcdef0123456789abcdef01234567")
	os.MkdirAll(filepath.Dir(bad), 0o755)
	if err := os.WriteFile(bad, []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := verify(t, d.ks, "example.com/app", k.Sign(t, image), image, time.Now())
	var kf *KeyFileError
	if !errors.As(err, &kf) || kf.Path != bad || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want a *KeyFileError naming %s", err, bad)
	}
	if _, err := d.ks.List(); !errors.As(err, &kf) {
		t.Errorf("List: err = %v, want *KeyFileError", err)
	}
	// Other names do not read that directory.
	if _, err := verify(t, d.ks, "other.org/app", k.Sign(t, image), image, time.Now()); err != nil {
		t.Errorf("other name: %v", err)
	}
}

func TestInvalidName(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "K")
	for _, name := range []string{"", "Example.com/App", "example.com//app", "../etc", "example.com/app/"} {
		if _, err := verify(t, d.ks, name, k.Sign(t, image), image, time.Now()); !errors.Is(err, ErrInvalidName) {
			t.Errorf("name %q: err = %v, want ErrInvalidName", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	k := trusttest.NewKey(t, "Parsed <parsed@example.com>", trusttest.WithExpiry(24*time.Hour))
	other := trusttest.NewKey(t, "Other")
	var priv bytes.Buffer
	if err := k.Entity.SerializePrivate(&priv, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want error // nil: accepted
	}{
		{"armored", k.ArmoredPublic(t), nil},
		{"binary", k.PublicBinary(t), nil},
		{"two keys", append(k.PublicBinary(t), other.PublicBinary(t)...), ErrNotOneKey},
		{"private key", priv.Bytes(), ErrPrivateKey},
		{"revoked", trusttest.NewKey(t, "R", trusttest.Revoked()).ArmoredPublic(t), ErrKeyRevoked},
		{"expired", trusttest.NewKey(t, "E", trusttest.WithExpiry(-time.Second)).ArmoredPublic(t), ErrKeyExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pk, err := ParseKey(tt.data)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if pk.Fingerprint != k.Fingerprint {
				t.Errorf("Fingerprint = %s, want %s", pk.Fingerprint, k.Fingerprint)
			}
			if len(pk.UserIDs) != 1 || pk.UserIDs[0] != k.UserID {
				t.Errorf("UserIDs = %q", pk.UserIDs)
			}
			if pk.Expires == nil || time.Until(*pk.Expires) < 23*time.Hour || time.Until(*pk.Expires) > 25*time.Hour {
				t.Errorf("Expires = %v, want in about 24h", pk.Expires)
			}
			if time.Since(pk.Created) < 59*time.Minute || time.Since(pk.Created) > 61*time.Minute {
				t.Errorf("Created = %v, want an hour ago", pk.Created)
			}
		})
	}
	for _, garbage := range [][]byte{nil, []byte("hello"), trusttest.Garbage(), k.Sign(t, image)} {
		if _, err := ParseKey(garbage); err == nil {
			t.Errorf("ParseKey(%q) accepted", garbage)
		}
	}
}

func TestAddListRemove(t *testing.T) {
	d := newDirs(t)
	a := trusttest.NewKey(t, "A <a@example.com>")
	b := trusttest.NewKey(t, "B <b@example.com>")
	sys := trusttest.NewKey(t, "Sys <sys@example.com>")
	sysPath := trusttest.WriteKeyring(t, d.system, "", sys)

	pa, err := ParseKey(a.ArmoredPublic(t))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := ParseKey(b.PublicBinary(t))
	if err != nil {
		t.Fatal(err)
	}

	path, already, err := d.ks.Add("example.com/app/", pa)
	if err != nil || already {
		t.Fatalf("Add: already=%v err=%v", already, err)
	}
	if want := filepath.Join(d.local, "trustedkeys/prefix.d/example.com/app", a.Fingerprint); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	for p, mode := range map[string]os.FileMode{
		path:                                  0o644,
		filepath.Dir(path):                    0o755 | os.ModeDir,
		filepath.Join(d.local, "trustedkeys"): 0o755 | os.ModeDir,
		filepath.Join(d.local, "trustedkeys/prefix.d"):             0o755 | os.ModeDir,
		filepath.Join(d.local, "trustedkeys/prefix.d/example.com"): 0o755 | os.ModeDir,
	} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != mode {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, mode)
		}
	}
	if stored, _ := os.ReadFile(path); !bytes.Equal(stored, a.ArmoredPublic(t)) {
		t.Errorf("stored key differs from the key given")
	}
	if again, already, err := d.ks.Add("example.com/app", pa); err != nil || !already || again != path {
		t.Errorf("re-Add: path=%s already=%v err=%v; want %s, true, nil", again, already, err, path)
	}
	rootPath, _, err := d.ks.Add("", pb)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(d.local, "trustedkeys/root.d", b.Fingerprint); rootPath != want {
		t.Errorf("root path %s, want %s", rootPath, want)
	}
	for _, bad := range []string{"Example.com", "example.com//x", "../x", "/", "a b"} {
		if _, _, err := d.ks.Add(bad, pa); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("Add(%q): err = %v, want ErrInvalidPrefix", bad, err)
		}
	}

	infos, err := d.ks.List()
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ prefix, fpr, scope, path, uid string }
	var got []row
	for _, in := range infos {
		got = append(got, row{in.Prefix, in.Fingerprint, in.Scope, in.Path, strings.Join(in.UserIDs, ",")})
	}
	rootRows := []row{
		{"", sys.Fingerprint, ScopeSystem, sysPath, sys.UserID},
		{"", b.Fingerprint, ScopeLocal, rootPath, b.UserID},
	}
	want := append(rootRows, row{"example.com/app", a.Fingerprint, ScopeLocal, path, a.UserID})
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Remove a local key: the file goes.
	removed, err := d.ks.Remove("example.com/app", strings.ToUpper(a.Fingerprint))
	if err != nil || removed != path {
		t.Fatalf("Remove local: %s, %v", removed, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key file still there: %v", err)
	}
	if _, err := d.ks.Remove("example.com/app", a.Fingerprint); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Remove again: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := d.ks.Remove("", "xyz"); !errors.Is(err, ErrInvalidFingerprint) {
		t.Errorf("Remove bad fingerprint: err = %v", err)
	}
	// Remove a system key: masked, still on disk.
	if _, err := d.ks.Remove("", sys.Fingerprint); err != nil {
		t.Fatal(err)
	}
	infos, err = d.ks.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Fingerprint != b.Fingerprint {
		t.Errorf("List after removals = %+v, want only %s", infos, b.Fingerprint)
	}
	if _, err := os.Stat(sysPath); err != nil {
		t.Errorf("system key file: %v", err)
	}
}

func TestAddNeedsLocalDir(t *testing.T) {
	k := trusttest.NewKey(t, "K")
	pk, err := ParseKey(k.ArmoredPublic(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := New(t.TempDir(), "").Add("", pk); !errors.Is(err, ErrNoLocalDir) {
		t.Errorf("err = %v, want ErrNoLocalDir", err)
	}
}

func TestFingerprintReview(t *testing.T) {
	k := &Key{Fingerprint: "f572eddb0dbb8a1b8e0f3e3f04435d8115413671", UserIDs: []string{"CoreOS ACI Builder <release@coreos.com>"}}
	want := "gpg key fingerprint is: F572 EDDB 0DBB 8A1B 8E0F  3E3F 0443 5D81 1541 3671\n\tCoreOS ACI Builder <release@coreos.com>\n"
	if got := FingerprintReview(k); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestSameKeyInSeveralPlaces(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "Everywhere")
	trusttest.WriteKeyring(t, d.system, "", k)
	trusttest.WriteKeyring(t, d.system, "example.com", k)
	want := trusttest.WriteKeyring(t, d.local, "example.com", k)
	v, err := verify(t, d.ks, "example.com/app", k.Sign(t, image), image, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if v.Prefix != "example.com" || v.KeyPath != want {
		t.Errorf("verdict %+v: want the most specific prefix, local copy %s", v, want)
	}
}

func TestHashOfTheWrongKind(t *testing.T) {
	d := newDirs(t)
	k := trusttest.NewKey(t, "K")
	trusttest.WriteKeyring(t, d.local, "", k)
	s, err := ParseSignature(k.Sign(t, image)) // SHA-512
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash() != crypto.SHA512 {
		t.Fatalf("Hash() = %v", s.Hash())
	}
	h := crypto.SHA256.New()
	h.Write(image)
	if _, err := d.ks.Verify("example.com/app", s, h, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("err = %v, want ErrBadSignature", err)
	}
}
