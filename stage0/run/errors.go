package run

import "errors"

var (
	// ErrNoStage1: no stage1 image was given and none was found at the
	// default location.
	ErrNoStage1 = errors.New("no stage1 image")
	// ErrBadStage1: the stage1 image lacks an entrypoint stage0 needs, or
	// names one outside its rootfs.
	ErrBadStage1 = errors.New("invalid stage1 image")
	// ErrAppRequired: the pod has several apps and none was chosen.
	ErrAppRequired = errors.New("the pod has several apps: choose one with --app")
	// ErrNoSuchApp: the pod has no app of that name.
	ErrNoSuchApp = errors.New("no such app in the pod")
	// ErrNoShell: enter without a command found no shell in the app.
	ErrNoShell = errors.New("no shell found in the app")
	// ErrFlyOneApp: the fly stage1 runs pods of exactly one app.
	ErrFlyOneApp = errors.New("the fly stage1 runs exactly one app")
	// ErrOverlayUnavailable: a pod prepared with overlay rootfs cannot be
	// mounted because overlayfs is not available any more.
	ErrOverlayUnavailable = errors.New("overlayfs is not available")
)
