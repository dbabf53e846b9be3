package isospec

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/appc/spec/schema/types"
)

// appFromJSON decodes an app the way a manifest is read.
func appFromJSON(t *testing.T, isolators string) *types.App {
	t.Helper()
	var a types.App
	js := `{"exec":["/bin/true"],"user":"0","group":"0","isolators":` + isolators + `}`
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		t.Fatalf("decoding app: %v", err)
	}
	return &a
}

func intp(v int) *int { return &v }

func TestFromFlagsRefusesBadValues(t *testing.T) {
	for flag, f := range map[string]Flags{
		"memory":        {Memory: "lots"},
		"cpu":           {CPU: "-1"},
		"cpu-shares":    {CPUShares: intp(1)},
		"oom-score-adj": {OOMScoreAdj: intp(1001)},
	} {
		_, err := FromFlags(f)
		if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "--"+flag) {
			t.Errorf("%s: err = %v, want ErrInvalidValue naming the flag", flag, err)
		}
	}
	if isos, err := FromFlags(Flags{}); err != nil || len(isos) != 0 {
		t.Errorf("no flags: %v %v", isos, err)
	}
}

func TestOverrideReplacesBothSetsOfAKind(t *testing.T) {
	app := appFromJSON(t, `[
		{"name":"os/linux/capabilities-retain-set","value":{"set":["CAP_CHOWN"]}},
		{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"]}}
	]`)
	var rm types.Isolators
	if err := json.Unmarshal([]byte(`[{"name":"os/linux/capabilities-remove-set","value":{"set":["CAP_KILL"]}}]`), &rm); err != nil {
		t.Fatal(err)
	}
	Override(app, rm)
	var names []string
	for _, i := range app.Isolators {
		names = append(names, string(i.Name))
	}
	if want := []string{"os/linux/seccomp-remove-set", "os/linux/capabilities-remove-set"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("isolators = %v, want %v", names, want)
	}
}
