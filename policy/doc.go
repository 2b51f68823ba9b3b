// Package policy owns the withdrawal policy: its strict YAML file format,
// its hash, the evaluation of a batch of decoded transactions against it,
// and plain-language explanations of both the policy and each decision.
//
// Contracts:
//   - Rules are ordered; the first rule whose match block matches EVERY
//     transaction of the batch decides; no match means deny.
//   - A matched allow rule then runs all its checks (limits, fees, time);
//     any failing check denies. Batch totals count against limits as a
//     whole, and velocity limits add the whole batch to the usage already
//     recorded, so splitting a withdrawal can never escape a limit.
//   - Change outputs (outputs the chain adapter derived from our own keys)
//     never count as withdrawals.
//   - Parsing never yields a permissive policy by accident: unknown keys,
//     duplicate keys, floats, unparseable amounts and unknown names are
//     errors naming file, line and field.
//   - Evaluate is pure: the time and the usage store are inputs. An error
//     from Evaluate (bad input, usage store failure) means refuse.
//
// The policy hash is SHA-256("icebox/policy/v1" || 0x00 || file bytes), over
// the exact bytes of the file (see Hash). Counter strings are described in
// counters.go.
package policy
