package systemd

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMetadataServiceUnits runs the metadata service as make install
// ships it: rkt-metadata.socket listens on rkt 1.30's registration socket,
// a pod started with --mds-register on the default network registers
// there, which starts rkt-metadata.service (unprivileged), and the app
// reads its pod's UUID from AC_METADATA_URL.
func TestMetadataServiceUnits(t *testing.T) {
	needHost(t)
	img := signedImage(t, "mdsclient", []string{"mds"}, nil)
	startSocket(t, "rkt-metadata.socket", "rkt-metadata.service")

	const unit = "rkt-test-mds.service"
	uuidFile := filepath.Join(t.TempDir(), "uuid")
	writeUnit(t, unit, podService(img, "--mds-register --uuid-file-save="+uuidFile, true))
	run(t, "systemctl", "start", unit)
	p := waitStopped(t, unit)
	uuid := readUUID(t, uuidFile, unit)
	if p["Result"] != "success" || !strings.Contains(journal(unit), "app: mds uuid "+uuid) {
		t.Errorf("the app did not read its pod's UUID %s from the metadata service: %v\njournal of %s:\n%s\njournal of rkt-metadata.service:\n%s",
			uuid, p, unit, journal(unit), journal("rkt-metadata.service"))
	}
	checkActivatedUnprivileged(t, "rkt-metadata.service")
}
