package image

import "errors"

// ErrUnknownFlavor is returned for a flavor other than FlavorNspawn and
// FlavorFly.
var ErrUnknownFlavor = errors.New("unknown stage1 flavor")
