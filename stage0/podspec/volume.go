package podspec

import (
	"fmt"
	"strconv"

	"github.com/appc/spec/schema/types"
)

// maxID is the largest uid or gid a volume may name: (uid_t)-1 means
// "unchanged" to chown(2), so it is not an owner.
const maxID = 1<<32 - 2

// ValidateVolume checks what appc's volume parsing lets through: an empty
// volume's mode must be octal permission bits (at most 07777), its uid and
// gid from 0 to 4294967294. It returns an error matching ErrInvalidVolume.
func ValidateVolume(v types.Volume) error {
	if v.Mode != nil {
		m, err := strconv.ParseUint(*v.Mode, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("volume %q: %w: mode %q is not an octal mode from 0 to 7777", v.Name, ErrInvalidVolume, *v.Mode)
		}
	}
	for _, id := range []struct {
		what string
		val  *int
	}{{"uid", v.UID}, {"gid", v.GID}} {
		if id.val != nil && (*id.val < 0 || *id.val > maxID) {
			return fmt.Errorf("volume %q: %w: %s %d is not from 0 to %d", v.Name, ErrInvalidVolume, id.what, *id.val, maxID)
		}
	}
	return nil
}
