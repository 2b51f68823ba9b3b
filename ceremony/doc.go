// Package ceremony owns the key backup ceremony's files and arithmetic: the
// M-of-N split of the AES-256 wrapping key (Shamir over GF(2^8), the
// hashicorp/vault shamir package), the share files handed to officers, the
// authenticated backup file that carries the wrapped keys, and the text
// transcript officers sign. It does no PKCS#11 and no I/O: cmd/iceboxd wires
// it to an hsm.KeyWrapper / hsm.KeyUnwrapper and to the store.
//
// Formats (docs/ceremony.md has the full description):
//   - backup file "icebox/key-backup/v1": canonical indented JSON listing the
//     wrapped keys (CKM_AES_KEY_WRAP_PAD output), the signed watch-only
//     manifest of the same keys, the share holders with a commitment to each
//     share, and "mac": HMAC-SHA256 under HKDF-SHA256(wrapping key, salt =
//     backup id, info "icebox/key-backup/v1/mac") over the file with an
//     empty mac. Only a holder of M shares can check or forge it.
//   - share file "icebox/key-share/v1": one share, in the clear or encrypted
//     with XChaCha20-Poly1305 under scrypt(passphrase) (the officer key-file
//     scheme), every header field bound as additional data.
//
// Contracts:
//   - Parsers cap the size first, reject unknown fields, duplicate keys,
//     trailing bytes and any non-canonical encoding, and never panic.
//   - Recover checks every share against the backup (id, holder, index,
//     commitment, duplicates, count ≥ M) before combining, then verifies the
//     backup's MAC with the rebuilt key. On any failure it returns no key,
//     so nothing reaches a token.
//   - hsm.WrappingKey values are wiped by whoever created them; this package
//     wipes every intermediate copy it makes.
package ceremony
