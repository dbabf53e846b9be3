package transport

import "errors"

// ErrPlainHTTP is returned for a plain http request (or a redirect to one)
// when the insecure set does not have HTTP.
var ErrPlainHTTP = errors.New("plain http is not allowed (use https, or --insecure-options=http)")
