package trust

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Refusals of a key or a signature. Callers test them with errors.Is; the
// error returned carries the details (image name, key, prefix).
var (
	// ErrKeyExpired: the key (or the signing subkey) was past its expiry at
	// the time of the check.
	ErrKeyExpired = errors.New("key expired")
	// ErrKeyRevoked: the key (or the signing subkey) carries a revocation.
	ErrKeyRevoked = errors.New("key revoked")
	// ErrSignatureExpired: the signature's own lifetime was over.
	ErrSignatureExpired = errors.New("signature expired")
	// ErrSignatureInFuture: the signature is dated later than now plus
	// MaxClockSkew.
	ErrSignatureInFuture = errors.New("signature created in the future")
	// ErrWeakDigest: the signature uses MD5, SHA-1, RIPEMD-160 or SHA-224.
	ErrWeakDigest = errors.New("signature uses a weak digest algorithm")
	// ErrBadSignature: the signature does not match the signed bytes, or the
	// key that made it may not sign.
	ErrBadSignature = errors.New("bad signature")
	// ErrWeakKey: an RSA, DSA or ElGamal key (primary or subkey) under
	// MinKeyBits.
	ErrWeakKey = errors.New("key is too weak")
	// ErrGarbageSignature: the data is not an OpenPGP detached signature.
	ErrGarbageSignature = errors.New("not an OpenPGP detached signature")
)

// Problems with keys and keystore arguments.
var (
	// ErrInvalidPrefix: a prefix that is not an app container name (lower
	// case letters, digits and -._~ separated by single slashes).
	ErrInvalidPrefix = errors.New("invalid prefix")
	// ErrInvalidName: an image name that is not an app container name.
	ErrInvalidName = errors.New("invalid image name")
	// ErrInvalidFingerprint: not the hex form of a v4 (40 digits) or
	// v5/v6 (64 digits) fingerprint.
	ErrInvalidFingerprint = errors.New("invalid fingerprint")
	// ErrKeyNotFound: no trusted key with that fingerprint for that prefix.
	ErrKeyNotFound = errors.New("key not found")
	// ErrNotOneKey: key data that holds no key or several keys.
	ErrNotOneKey = errors.New("key data must hold exactly one public key")
	// ErrKeyFileName: a key file whose name is not the lowercase hex
	// fingerprint of the key it holds.
	ErrKeyFileName = errors.New("key file is not named by the fingerprint of its key")
	// ErrKeyFileTooLarge: a key file larger than MaxKeySize.
	ErrKeyFileTooLarge = errors.New("key file is too large")
	// ErrKeyTooLarge: key data given to rkt trust larger than MaxKeySize.
	ErrKeyTooLarge = fmt.Errorf("key is larger than %d bytes", MaxKeySize)
	// ErrPrivateKey: key data holding secret key material.
	ErrPrivateKey = errors.New("key data holds a private key")
	// ErrNoLocalDir: a change was asked of a keystore without a local dir.
	ErrNoLocalDir = errors.New("keystore has no local directory")
)

// KeyFileError reports a file in a keystore directory that cannot be read
// or is not a good key file: one public key, named by its fingerprint, at
// most MaxKeySize bytes.
type KeyFileError struct {
	Path   string
	Prefix string // the prefix of the directory; "" is root.d
	Scope  string // ScopeSystem or ScopeLocal
	Name   string // the file name
	Err    error
}

func (e *KeyFileError) Error() string {
	return fmt.Sprintf("reading trusted key %s: %v; %s", e.Path, e.Err, e.Fix())
}

// Fix says how to get rid of the file.
func (e *KeyFileError) Fix() string {
	if _, err := NormalizeFingerprint(e.Name); err != nil || e.Name != strings.ToLower(e.Name) {
		return "remove the file"
	}
	return fmt.Sprintf("remove the file, or run: rkt trust %s --remove %s", trustScopeFlag(e.Prefix), e.Name)
}

func (e *KeyFileError) Unwrap() error { return e.Err }

// BadKeyFilesError reports every bad key file met while loading keys. It
// unwraps to the *KeyFileError of each.
type BadKeyFilesError struct {
	Files []*KeyFileError
}

func badFiles(files []*KeyFileError) error {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return &BadKeyFilesError{Files: files}
}

func (e *BadKeyFilesError) Error() string {
	if len(e.Files) == 1 {
		return e.Files[0].Error()
	}
	msgs := make([]string, len(e.Files))
	for i, f := range e.Files {
		msgs[i] = f.Error()
	}
	return fmt.Sprintf("%d bad trusted key files: %s", len(e.Files), strings.Join(msgs, "; "))
}

func (e *BadKeyFilesError) Unwrap() []error {
	errs := make([]error, len(e.Files))
	for i, f := range e.Files {
		errs[i] = f
	}
	return errs
}

// UnknownSignerError reports a signature made by a key that is not in the
// keyring for the image name.
type UnknownSignerError struct {
	Name        string // the image name being verified
	KeyID       string // the issuer key ID, 16 lowercase hex digits
	Fingerprint string // the issuer fingerprint when the signature names it
	// Others are the signers of the file's other signatures, all unknown
	// too: their fingerprints, or key IDs when a signature names none.
	Others   []string
	Searched []string // the prefixes whose keys were tried; "" is root.d
	// TrustedFor lists the prefixes for which the signer's key is trusted
	// in this keystore, none of which covers Name.
	TrustedFor []string
	// TrustedPath is a file holding the signer's key and TrustedKey its
	// primary fingerprint, when TrustedFor is not empty.
	TrustedPath string
	TrustedKey  string

	// noKeyID: the signature names no key (a cosign signature); it was
	// tried with every public key of the keyring.
	noKeyID bool
}

func (e *UnknownSignerError) Unwrap() error {
	if e.noKeyID {
		return ErrNoKeyVerifies
	}
	return nil
}

func (e *UnknownSignerError) Error() string {
	var b strings.Builder
	signer := e.KeyID
	if e.Fingerprint != "" {
		signer = e.Fingerprint
	}
	switch {
	case e.noKeyID:
		fmt.Fprintf(&b, "image %q: %v (searched %s)", e.Name, ErrNoKeyVerifies, prefixList(e.Searched))
	case len(e.Others) == 0:
		fmt.Fprintf(&b, "image %q: signature made by unknown key %s (searched %s)",
			e.Name, signer, prefixList(e.Searched))
	default:
		fmt.Fprintf(&b, "image %q: signatures made by unknown keys %s, %s (searched %s)",
			e.Name, signer, strings.Join(e.Others, ", "), prefixList(e.Searched))
	}
	if len(e.TrustedFor) > 0 {
		fmt.Fprintf(&b, "; it belongs to key %s, trusted for %s only", e.TrustedKey, prefixList(e.TrustedFor))
		fmt.Fprintf(&b, "; to trust that key for this image too, run: rkt trust --prefix %s %s", e.Name, e.TrustedPath)
	} else {
		fmt.Fprintf(&b, "; if you expected the signing key to change, run: rkt trust --prefix %s", e.Name)
	}
	return b.String()
}

func prefixList(ps []string) string {
	if len(ps) == 0 {
		return "no prefixes"
	}
	q := make([]string, len(ps))
	for i, p := range ps {
		if p == "" {
			q[i] = "root"
		} else {
			q[i] = fmt.Sprintf("prefix %q", p)
		}
	}
	return strings.Join(q, ", ")
}

// SignatureError reports a signature refused although its signer is in the
// keyring for the image name. Err wraps one of the sentinels above.
type SignatureError struct {
	Name        string // the image name being verified
	Fingerprint string // the trusted primary key
	Prefix      string // the prefix the key is trusted for; "" is root.d
	KeyPath     string
	Err         error
}

func (e *SignatureError) Error() string {
	scope := "root"
	if e.Prefix != "" {
		scope = fmt.Sprintf("prefix %q", e.Prefix)
	}
	return fmt.Sprintf("image %q: key %s (trusted for %s at %s): %v", e.Name, e.Fingerprint, scope, e.KeyPath, e.Err)
}

func (e *SignatureError) Unwrap() error { return e.Err }

// NoAcceptedSignatureError reports a signature file of several signatures
// none of which is accepted, for different reasons. It unwraps to each
// refusal: *SignatureError, *UnknownSignerError (all the unknown signers
// in one), or an error wrapping ErrWeakDigest.
type NoAcceptedSignatureError struct {
	Name     string
	Refusals []error
}

func (e *NoAcceptedSignatureError) Error() string {
	msgs := make([]string, len(e.Refusals))
	for i, r := range e.Refusals {
		msgs[i] = r.Error()
	}
	return fmt.Sprintf("image %q: no signature is accepted: %s", e.Name, strings.Join(msgs, "; "))
}

func (e *NoAcceptedSignatureError) Unwrap() []error { return e.Refusals }
