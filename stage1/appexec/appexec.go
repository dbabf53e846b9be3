// Package appexec holds what both stage1 flavors do to put an app in its
// rootfs: applying the pod manifest's app over the image's, resolving the
// app's user and group from the app's own /etc/passwd and /etc/group,
// resolving paths as the app will see them after chroot, and binding or
// mounting file systems onto targets inside the rootfs.
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

// MergeApp applies the pod manifest's app (the run flags, set by stage0)
// over the image's app, as rkt does: a non-empty exec, user, group,
// supplementary gids, working directory, event handlers or mount points of
// the pod replace the image's. The environments are returned apart, the
// image's and the pod's, because the flavors layer them with the runtime
// config's variables in between; app.Environment is the image's.
func MergeApp(img, pod *types.App) (app types.App, imgEnv, podEnv types.Environment) {
	if img != nil {
		app = *img
		imgEnv = img.Environment
	}
	if pod == nil {
		return app, imgEnv, nil
	}
	if len(pod.Exec) > 0 {
		app.Exec = pod.Exec
	}
	if pod.User != "" {
		app.User = pod.User
	}
	if pod.Group != "" {
		app.Group = pod.Group
	}
	if len(pod.SupplementaryGIDs) > 0 {
		app.SupplementaryGIDs = pod.SupplementaryGIDs
	}
	if pod.WorkingDirectory != "" {
		app.WorkingDirectory = pod.WorkingDirectory
	}
	if len(pod.EventHandlers) > 0 {
		app.EventHandlers = pod.EventHandlers
	}
	if len(pod.MountPoints) > 0 {
		app.MountPoints = pod.MountPoints
	}
	return app, imgEnv, pod.Environment
}
