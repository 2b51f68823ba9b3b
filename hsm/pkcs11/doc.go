// Package pkcs11 is the only Icebox package that talks to a PKCS#11 module
// (it is the only importer of github.com/miekg/pkcs11, and the only cgo).
//
// Open loads the configured module (once per process: see internal/module),
// finds the token by label or serial, obtains the user PIN (PIN file,
// $ICEBOX_HSM_PIN, or an interactive prompt — in that order; never from the
// configuration) and logs in. The returned *HSM implements hsm.Signer,
// hsm.KeyGenerator, hsm.KeyLister, hsm.IdentityKeeper, hsm.AnchorStore,
// hsm.KeyWrapper and hsm.KeyUnwrapper and
// is safe for concurrent use: operations borrow a session from a bounded
// pool (Config.Sessions, default = number of CPUs).
//
// Contracts:
//   - Signing keys are secp256k1 key pairs generated on the token with
//     CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and CKA_EXTRACTABLE=false, a
//     label and a random 16-byte CKA_ID. Private key bytes never exist
//     outside the token.
//   - SignDigest signs exactly the 32 given bytes with CKM_ECDSA, normalises
//     s to the lower half of the order and verifies the result against the
//     key's public key before returning it (hsm.ErrBadSignature otherwise).
//   - The identity key (label "icebox-identity") is Ed25519 (CKM_EDDSA) when
//     the token offers CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA, else ECDSA
//     P-256 over SHA-256(message). Its signatures verify with sigkey.
//   - Backup mode (Config.Backup, see hsm.BackupMode): by default keys are
//     CKA_EXTRACTABLE=false and can never leave the token. With
//     hsm.BackupWrapWithTrusted they are generated CKA_SENSITIVE,
//     CKA_EXTRACTABLE and CKA_WRAP_WITH_TRUSTED (the identity key then is
//     P-256), and WrapAll/UnwrapAll (hsm.KeyWrapper, hsm.KeyUnwrapper) move
//     them between tokens encrypted with CKM_AES_KEY_WRAP_PAD under a
//     CKA_TRUSTED AES-256 session key that the security officer imports
//     (SO PIN: Config.SOPINFile, $ICEBOX_HSM_SO_PIN or a prompt). During a
//     ceremony the handle holds every pool session, logs the user out, the
//     SO in and out, and the user back in. UnwrapAll only writes to an empty
//     token, re-creates keys CKA_EXTRACTABLE=false, proves each with a test
//     signature and destroys everything it created when anything fails.
//   - Officer keys (OpenOfficerKey): an officer's P-256 or Ed25519 key on
//     its own token (PIV card, YubiKey, another SoftHSM token), addressed by
//     an RFC 7512 PKCS#11 URI (ParseURI: token/serial, object/id,
//     module-path, pin-source=file:; pin-value and unknown attributes are
//     refused). The PIN comes from the pin-source file, else
//     $ICEBOX_OFFICER_PIN, else a prompt. It signs exactly like the
//     identity key (same code) and is a sigkey.Signer; the token counts as
//     opened once per process like any other.
//   - Anchors are private token CKO_DATA objects (CKA_APPLICATION "icebox",
//     CKA_LABEL "icebox-anchor:" + name).
//   - Errors wrap the hsm sentinels (hsm.ErrPINIncorrect, ...) and the
//     underlying pkcs11.Error, with the module path, token label or key
//     reference — never a PIN or key bytes.
//
// PIN failure counter: SoftHSM (and some other modules) never lock the user
// PIN, so Icebox counts failed logins itself in Config.PINFailureFile, a
// small JSON file keyed by token serial, written atomically and fsync'd. A
// login attempt is refused with hsm.ErrPINLocked without touching the token
// once the count reaches Config.MaxPINFailures; a correct PIN resets the
// count. The counter cannot live on the token (nothing private can be read
// before login). It stops guessing through iceboxd; it does not stop an
// attacker who can write the signer's disk — the file's location is the
// store directory, which that attacker owns anyway. Unlocking is an
// operator decision: delete the file (or the token's entry) after checking
// why logins failed.
//
// SoftHSM reads SOFTHSM2_CONF at C_Initialize; the module is finalized when
// the last *HSM of the process is closed. Always Close.
package pkcs11
