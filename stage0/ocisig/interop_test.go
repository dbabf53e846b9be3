package ocisig

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/rkt/rkt/stage0/trust"
)

// policyFile writes a containers-policy.json that accepts images under
// scope signed by key (signedBy, the same check podman pull makes) and
// rejects everything else.
func policyFile(t *testing.T, key *gpgKey, scope string) string {
	t.Helper()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.asc")
	if err := os.WriteFile(keyPath, key.pub, 0o644); err != nil {
		t.Fatal(err)
	}
	policy := map[string]any{
		"default": []any{map[string]any{"type": "reject"}},
		"transports": map[string]any{"docker": map[string]any{
			scope: []any{map[string]any{"type": "signedBy", "keyType": "GPGKeys", "keyPath": keyPath}},
		}},
	}
	b, _ := json.Marshal(policy)
	p := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// containersAccept reports whether skopeo, under policy, copies ref out of
// the registry: containers/image's verdict on the signatures, the one
// podman pull reaches with the same policy.json and registries.d.
func containersAccept(t *testing.T, r *testRegistry, l *lookaside, policy, ref string) (bool, string) {
	t.Helper()
	cmd := exec.Command("skopeo", "--policy", policy, "--registries.d", l.regsD, "copy", "--quiet",
		"--src-tls-verify=false", "docker://"+r.host+"/"+ref, "dir:"+t.TempDir())
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

// podmanAccept reports whether podman itself, under policy, pulls ref out
// of the registry (into a throw-away store). podman reads registries.d
// only from /etc/containers/registries.d when run as root, so the
// lookaside of this registry's host:port goes there for the test, in a file
// of its own, removed after. It returns skip, not "", when podman cannot
// run here.
func podmanAccept(t *testing.T, r *testRegistry, l *lookaside, policy, ref string) (ok bool, out, skip string) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		return false, "", "podman is not installed (install_packages in scripts/lib.sh lists it)"
	}
	if os.Geteuid() != 0 {
		return false, "", "podman reads /etc/containers/registries.d only as root"
	}
	conf := filepath.Join("/etc/containers/registries.d", "rkt-test-"+strings.NewReplacer(":", "-", ".", "-").Replace(r.host)+".yaml")
	if _, err := os.Stat(conf); err != nil {
		if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
			t.Fatal(err)
		}
		yaml := fmt.Sprintf("docker:\n  %s:\n    lookaside: file://%s\n", r.host, l.dir)
		if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(conf) })
	}
	// podman refuses a runroot path longer than 50 characters.
	store, err := os.MkdirTemp("", "podman")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(store) })
	cmd := exec.Command("podman", "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "none",
		"pull", "--quiet", "--signature-policy", policy, "--tls-verify=false", "docker://"+r.host+"/"+ref)
	b, err := cmd.CombinedOutput()
	return err == nil, string(b), ""
}

// policyVerdict tells whether a tool's refusal came from the signature
// policy (containers/image says "Source image rejected"), not from
// something else going wrong; an acceptance always is one.
func policyVerdict(accepted bool, out string) bool {
	return accepted || strings.Contains(out, "Source image rejected")
}

// TestContainersPolicyAgrees runs the hostile cases through rkt's Verify
// and through containers/image's policy, as skopeo copy --policy and as
// podman pull --signature-policy (signedBy) apply it: all three must
// accept and refuse the same images.
func TestContainersPolicyAgrees(t *testing.T) {
	s := newSimpleSetup(t, "never")
	s.key.trust(t, s.ks, s.reg.host+"/team")
	teamPolicy := policyFile(t, s.key, s.reg.host+"/team")

	// A tag moved: app:1 now names app:2's image, signed for app:2.
	s.reg.push(t, "team/moved:2")
	s.reg.skopeoSign(t, s.la, s.key, "team/moved:2", "")
	img2, err := remote.Image(mustRef(t, s.reg.host+"/team/moved:2"), s.reg.opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.reg.push(t, "team/moved:1")
	s.reg.skopeoSign(t, s.la, s.key, "team/moved:1", "")
	s.reg.write(t, "team/moved:1", img2)

	// A manifest swapped after signing, with the old signature copied to
	// the new digest's place.
	s.reg.push(t, "team/swapped:1")
	s.reg.skopeoSign(t, s.la, s.key, "team/swapped:1", "")
	old := s.reg.request(t, "team/swapped:1")
	s.reg.push(t, "team/swapped:1")
	copySignature(t, s.la, "team/swapped", old.ManifestDigest, s.reg.request(t, "team/swapped:1").ManifestDigest)

	// Signed for another reference.
	s.reg.push(t, "team/web:1")
	s.reg.skopeoSign(t, s.la, s.key, "team/web:1", s.reg.host+"/team/db:1")

	// Bad bytes in the signature.
	s.reg.push(t, "team/bad:1")
	s.reg.skopeoSign(t, s.la, s.key, "team/bad:1", "")
	bad := sigPath(s.la, "team/bad", s.reg.request(t, "team/bad:1").ManifestDigest, 1)
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, corruptParsable(t, data), 0o644); err != nil {
		t.Fatal(err)
	}

	// Unsigned.
	s.reg.push(t, "team/plain:1")

	// Trusted for another prefix only.
	otherKS := trust.New("", t.TempDir())
	s.key.trust(t, otherKS, s.reg.host+"/other")
	otherPolicy := policyFile(t, s.key, s.reg.host+"/other")

	for _, tc := range []struct {
		name, ref string
		ks        *trust.Keystore
		policy    string
		want      bool
	}{
		{"signed", "team/app:1", s.ks, teamPolicy, true},
		{"key trusted for another prefix", "team/app:1", otherKS, otherPolicy, false},
		{"tag moved to another signed digest", "team/moved:1", s.ks, teamPolicy, false},
		{"manifest swapped after signing", "team/swapped:1", s.ks, teamPolicy, false},
		{"signed for another reference", "team/web:1", s.ks, teamPolicy, false},
		{"bad bytes", "team/bad:1", s.ks, teamPolicy, false},
		{"unsigned", "team/plain:1", s.ks, teamPolicy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(verifyCtx(), tc.ks, s.reg.request(t, tc.ref), s.opts())
			theirs, out := containersAccept(t, s.reg, s.la, tc.policy, tc.ref)
			if ours := err == nil; ours != tc.want || theirs != tc.want || !policyVerdict(theirs, out) {
				t.Errorf("%s: rkt accepts=%v (%v), skopeo accepts=%v (%s), want %v",
					tc.ref, ours, err, theirs, out, tc.want)
			}
			podman, out, skip := podmanAccept(t, s.reg, s.la, tc.policy, tc.ref)
			if skip != "" {
				t.Skip("skipping podman's verdict: " + skip)
			}
			if podman != tc.want || !policyVerdict(podman, out) {
				t.Errorf("%s: podman pull accepts=%v (%s), want %v (as rkt)", tc.ref, podman, out, tc.want)
			}
		})
	}
}
