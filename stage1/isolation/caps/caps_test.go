package caps

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/appc/spec/schema/types"
)

func TestDefault(t *testing.T) {
	want := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
		"CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD",
		"CAP_AUDIT_WRITE", "CAP_SETFCAP"}
	if got := Default.Names(); !slices.Equal(got, want) {
		t.Errorf("Default = %v, want %v", got, want)
	}
	// The mask rkt's apps showed in CapBnd.
	if Default != 0xa80425fb {
		t.Errorf("Default = %#x, want 0xa80425fb", uint64(Default))
	}
}

func TestParse(t *testing.T) {
	s, err := ParseList("CAP_NET_ADMIN, sys_time,Cap_Kill,")
	if err != nil {
		t.Fatal(err)
	}
	if s != Of(NetAdmin, SysTime, Kill) {
		t.Errorf("got %s", s)
	}
	for _, bad := range []string{"CAP_FOO", "net-admin", "CAP_"} {
		if _, err := ParseList(bad); !errors.Is(err, ErrUnknownCapability) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if n, err := ParseName("checkpoint_restore"); err != nil || n != 40 {
		t.Errorf("checkpoint_restore: %d %v", n, err)
	}
}

func TestFromFlags(t *testing.T) {
	s, given, err := FromFlags("CAP_NET_ADMIN", "")
	if err != nil || !given || s != Of(NetAdmin) {
		t.Errorf("retain: %s %v %v", s, given, err)
	}
	s, given, err = FromFlags("", "CAP_CHOWN,CAP_NET_RAW")
	if err != nil || !given || s != Default&^Of(Chown, NetRaw) {
		t.Errorf("remove: %s %v %v", s, given, err)
	}
	if s, given, err := FromFlags("", ""); err != nil || given || s != Default {
		t.Errorf("none: %s %v %v", s, given, err)
	}
	if _, _, err := FromFlags("CAP_CHOWN", "CAP_KILL"); !errors.Is(err, ErrConflict) {
		t.Errorf("both: %v", err)
	}
}

func isolators(t *testing.T, js string) types.Isolators {
	t.Helper()
	var isos types.Isolators
	if err := json.Unmarshal([]byte(js), &isos); err != nil {
		t.Fatal(err)
	}
	return isos
}

func TestFromIsolators(t *testing.T) {
	cases := []struct {
		js   string
		want Set
		err  error
	}{
		{`[]`, Default, nil},
		{`[{"name":"resource/memory","value":{"limit":"1G"}}]`, Default, nil},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_NET_ADMIN","CAP_SYS_TIME"]}}]`, Of(NetAdmin, SysTime), nil},
		{`[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_CHOWN"]}}]`, Default &^ Of(Chown), nil},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_CHOWN"]}},
		   {"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_KILL"]}}]`, 0, ErrConflict},
		{`[{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_WHAT"]}}]`, 0, ErrUnknownCapability},
	}
	for _, c := range cases {
		got, err := FromIsolators(isolators(t, c.js))
		if !errors.Is(err, c.err) || (c.err == nil && got != c.want) {
			t.Errorf("%s: %s, %v; want %s, %v", c.js, got, err, c.want, c.err)
		}
	}
}

func TestNoNewPrivileges(t *testing.T) {
	if NoNewPrivileges(isolators(t, `[]`)) {
		t.Error("no isolator: true")
	}
	if !NoNewPrivileges(isolators(t, `[{"name":"os/linux/no-new-privileges","value":true}]`)) {
		t.Error("true isolator: false")
	}
	if NoNewPrivileges(isolators(t, `[{"name":"os/linux/no-new-privileges","value":false}]`)) {
		t.Error("false isolator: true")
	}
}

func TestLastCap(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skipf("no cap_last_cap to compare with: %v", err)
	}
	want, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if got, err := LastCap(); err != nil || got != want {
		t.Errorf("LastCap = %d, %v; /proc says %d", got, err, want)
	}
}
