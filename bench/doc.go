// Package bench is `make bench`: it measures Icebox against the physical
// limit of its HSM, side by side in one run, and writes docs/benchmarks.md.
//
// Everything lives in _test.go files (the package has no production code):
//
//   - the raw limit: bare C_Sign (CKM_ECDSA, secp256k1) through
//     hsm/pkcs11/pkcs11test.RawSigner on the same SoftHSM2 token, with one
//     session and with one session per core;
//   - the signer pipeline exactly as `iceboxd sign` wires it (signer.New
//     with the HSM, the bbolt store anchored in the token, the chain
//     adapters of the HSM's keys, a parsed roster and policy) for Ethereum
//     batches of 1, 100, 1,000 and 10,000 transactions and a Bitcoin sweep
//     of 1,000 P2WPKH inputs, every request approved by 5 officers;
//   - the floor of one withdrawal (one raw signature + one fsync'd bbolt
//     commit on the store's disk) against one withdrawal end to end;
//   - peak RSS of a child process that signs the 10,000-transaction batch;
//   - QR: a 100 KB bundle as PNG frames, decoded by Icebox and by zbarimg.
//
// Throughput on a shared machine drifts, so every end-to-end figure is
// compared with a raw measurement taken right before and right after it.
// Targets are reported, never asserted: BenchmarkReport fails only when a
// measurement cannot be made (a refusal, a wrong signature, a missing tool).
//
// TestHarness (part of `make test`) runs the same harness on tiny batches so
// that the benchmark cannot rot unnoticed.
package bench
