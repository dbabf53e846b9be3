// Package appexec holds what both stage1 flavors do to put an app in its
// rootfs: applying the pod manifest's app over the image's, resolving the
// app's user and group from the app's own /etc/passwd and /etc/group,
// resolving paths as the app will see them after chroot, binding or
// mounting file systems onto targets inside the rootfs, and reading the
// sockets systemd hands the pod for its socket-activated apps.
//
// Invariants:
//   - Nothing from an image is trusted as a host path. Every path inside an
//     app is resolved with chroot semantics (ResolveInRoot: absolute
//     symlinks restart at the rootfs, ".." stops at it) and then used only
//     through an os.Root of the rootfs, which refuses to leave it even if
//     the image changes under us.
//   - A mount target is created and opened through that os.Root, and the
//     mount goes onto the opened descriptor's /proc/self/fd path: a symlink
//     swapped in after the check cannot redirect it.
//   - The package never changes the process's root, credentials or working
//     directory; callers do that, once, just before exec.
//
// Stage1 binaries import it; it imports only the standard library,
// golang.org/x/sys and the appc schema types.
package appexec

import "github.com/appc/spec/schema/types"

// MergeApp is the app a pod runs, as rkt 1.30 ran it: the pod manifest's
// app whole when it has one (stage0 writes one for every app it prepares:
// the image's, with the run flags applied), its environment as the
// override and no image environment; else the image's app. The
// environments are returned apart because the flavors layer them with the
// runtime config's variables in between; app.Environment is left as is.
func MergeApp(img, pod *types.App) (app types.App, imgEnv, podEnv types.Environment) {
	if pod != nil {
		return *pod, nil, pod.Environment
	}
	if img != nil {
		app = *img
		imgEnv = img.Environment
	}
	return app, imgEnv, nil
}
