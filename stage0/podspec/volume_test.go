package podspec

import (
	"errors"
	"testing"
)

func TestVolumeFlagRefusesBadOwnersAndModes(t *testing.T) {
	for _, v := range []string{
		"v,kind=empty,uid=-5",
		"v,kind=empty,gid=-1",
		"v,kind=empty,uid=4294967295",
		"v,kind=empty,gid=99999999999",
		"v,kind=empty,mode=0999",
		"v,kind=empty,mode=17777",
		"v,kind=empty,mode=-1",
		"v,kind=empty,mode=rwx",
	} {
		err := Parse([]string{"--volume=" + v, "img"}, &Plan{Command: "run"})
		if !errors.Is(err, ErrUsage) || !errors.Is(err, ErrInvalidVolume) {
			t.Errorf("--volume=%s: %v, want a usage error matching %v", v, err, ErrInvalidVolume)
		}
	}
	for _, v := range []string{
		"v,kind=empty",
		"v,kind=empty,uid=0,gid=0,mode=0700",
		"v,kind=empty,uid=4294967294,gid=1000,mode=1777",
	} {
		if err := Parse([]string{"--volume=" + v, "img"}, &Plan{Command: "run"}); err != nil {
			t.Errorf("--volume=%s: %v, want nil", v, err)
		}
	}
}
