// Package softhsmtest creates throwaway SoftHSM2 tokens for tests that must
// run against a real PKCS#11 module. It is imported only from _test.go files.
//
// Contract:
//   - NewToken initialises a fresh token (own softhsm2.conf and token
//     directory under t.TempDir()) and points SOFTHSM2_CONF at it with
//     t.Setenv. SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, so every
//     token a test creates lives in that test's one token directory, and a
//     test that uses tokens can never be marked t.Parallel (t.Setenv panics
//     if it is). The HSM handles a test opens must be closed by the end of
//     the test (use t.Cleanup) so that hsm/pkcs11 finalizes the module and
//     the next test's C_Initialize reads the next configuration.
//   - When softhsm2 is missing, NewToken fails the test with the exact
//     install command. It never skips: the SoftHSM suite must run.
//
// The PINs are test values and must never be used for a real token.
package softhsmtest
