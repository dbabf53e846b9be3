// Package trust keeps the keys trusted to sign images and checks detached
// OpenPGP signatures against them, scoped by image name prefix.
//
// On disk (compatible with rkt), under each config root (system, e.g.
// /usr/lib/rkt, read-only here; local, e.g. /etc/rkt, written by Add and
// Remove):
//
//	<root>/trustedkeys/
//	    root.d/<fingerprint>                      trusted for every image
//	    prefix.d/<p1>/<p2>/.../<fingerprint>      trusted for names under p1/p2/...
//
// A key file is named by the lowercase hex fingerprint of its primary key
// (40 digits for v4 keys) and holds the armored or binary public key, mode
// 0644, in 0755 directories. A prefix such as example.com/app is the
// directory path prefix.d/example.com/app.
//
// Invariants:
//   - The keyring for image NAME is root.d plus prefix.d/<P> for every P
//     that is NAME cut at a path element boundary: a key for example.com/app
//     verifies example.com/app and example.com/app/x, never example.com/appx,
//     and a key for example.com never verifies example.com.evil.org/x.
//   - In each of those directories the system keys count unless a zero-byte
//     file of the same name sits at the same place in the local dir (a mask);
//     then the local keys count. Zero-byte files are never keys.
//   - A file in a keyring directory that is not one public key, named by its
//     lowercase hex fingerprint, of at most MaxKeySize bytes, is a bad key
//     file: verification of a name whose keyring holds it fails, naming the
//     file; List lists the good keys and names the bad files apart. It is
//     never silently skipped.
//   - RSA, DSA and ElGamal keys (primary or subkey) under MinKeyBits are
//     refused by ParseKey, and their signatures by Verify.
//   - Writes go through common/atomicfile: a key file is either absent or
//     complete.
//   - Verify never reads the signed bytes itself: the caller feeds them,
//     as they stream, into the hash from Signature.NewHash. Nothing is
//     accepted unless a signature of the file matches those bytes, its
//     signer is a trusted key (or a signing subkey bound to one) valid and
//     unrevoked at the time given, the signature itself is in date, and its
//     digest is not one of MD5, SHA-1, RIPEMD-160, SHA-224.
//   - A signature file holds 1 to MaxSignatures signatures, every packet a
//     well-formed document signature. It is refused when any signature by
//     a key of the keyring does not verify (a bad one), whatever the
//     others; signatures by other keys are never checked and never count.
package trust
