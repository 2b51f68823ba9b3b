// Package hsm owns the vocabulary of the hardware security module as the rest
// of Icebox sees it: key references, the Signer interface that signs
// caller-computed secp256k1 digests, the optional powers (key generation,
// listing, identity signing, rollback anchors) and the typed errors an
// operator must be able to tell apart.
//
// It has no cgo and imports no PKCS#11 library: the only implementation that
// talks to a real module is hsm/pkcs11. hsm/hsmtest holds an in-memory fake for
// unit tests of pure logic; it never replaces the SoftHSM2 suite.
//
// Contract: an HSM never hashes for the chain adapters. SignDigest signs
// exactly the 32 bytes it is given and returns a low-S (r, s) pair; callers
// verify every signature before they publish it.
package hsm
