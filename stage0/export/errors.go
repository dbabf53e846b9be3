package export

import "errors"

var (
	// ErrNotExited is rkt's refusal of a pod that has not exited.
	ErrNotExited = errors.New("pod is not exited. Only exited pods can be exported")
	// ErrAppRequired: the pod has more than one app and none was named.
	ErrAppRequired = errors.New("pod has more than one app: specify one with --app")
	// ErrNoSuchApp: the named app is not in the pod.
	ErrNoSuchApp = errors.New("no such app in the pod")
	// ErrMountsRemain: a copied rootfs still has mounts under it.
	ErrMountsRemain = errors.New("mounts remain under the app's rootfs (run `rkt gc` or unmount them)")
)
