// Package officer owns officer signing keys kept in a file, encrypted at
// rest with a passphrase, and the ways a command obtains that passphrase.
//
// File format (JSON, one object, at most 4 KiB, unknown fields rejected):
//
//	{
//	  "format": "icebox-officer-key",
//	  "version": 1,
//	  "public_key": "ed25519:<64 hex>",
//	  "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<32 hex>"},
//	  "cipher": {"name": "xchacha20poly1305", "nonce": "<48 hex>", "ciphertext": "<96 hex>"}
//	}
//
// The 32-byte key-encryption key is scrypt(passphrase, salt, n, r, p). The
// plaintext is the 32-byte Ed25519 seed, sealed with XChaCha20-Poly1305; the
// additional data is "icebox/officer-key/v1" || 0x00 || public_key || 0x00 ||
// the decimal n, r, p joined by ':' — so a tampered public key or weakened
// KDF parameter makes decryption fail. Load checks that the decrypted seed
// derives the stored public key. Files are created 0600 and never
// overwritten.
//
// Keys on a PKCS#11 token will implement the same seam: a command only ever
// needs a sigkey.Signer.
package officer
