// Package e2e runs Icebox end to end with the real binaries: iceboxd,
// icebox and demofund are built once per test binary (Build, from
// TestMain) and driven with os/exec against a throwaway SoftHSM2 token and a
// real bbolt store per signer.
//
// A Harness holds the built binaries and the officer keys (encrypted key
// files made once with "icebox officer keygen", because the key derivation
// is slow by design, and also loaded in memory to sign governance changes
// and forged bundles). Harness.NewSigner gives each test its own signer:
// token, config, iceboxd init, keys, signed manifest, demo funds, and the
// founding roster and policy installed through change bundles signed by two
// admins. Each Signer has its own SOFTHSM2_CONF, passed only to the
// processes it starts, so tests using different signers may run in
// parallel.
//
// Contracts: every helper that takes a testing.TB fails the test on an
// unexpected error and never skips; helpers that run a binary return its
// exit code and output (Result) so the caller asserts on them.
package e2e
