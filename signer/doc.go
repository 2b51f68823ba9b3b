// Package signer owns the one-pass signing pipeline and nothing else:
//
//	decode → replay check → clock → expiry → requester → parse every
//	transaction → policy → quorum → reserve (durable) → sign every item in
//	the HSM → attach + self-verify → complete (audit) → checkpoint → signed
//	response
//
// One request bundle goes in; one signed response bundle comes out — either
// every transaction of the batch signed, or a signed refusal naming the
// stage and the reason. Every decision is in the audit log before the
// response is returned; when the audit log cannot be written, Process
// returns an error and no response at all (the caller outputs nothing).
//
// The pipeline never trusts what a request claims: amounts, destinations and
// ownership come from the chain adapters' decoding of the transactions.
//
// A Pipeline processes one request at a time (Process holds a lock): the
// store has a single writer and velocity checks read what earlier requests
// charged.
//
// Fee bumps: only when the deciding policy rule has allow_fee_bump may a
// request re-spend Bitcoin outpoints the ledger holds for an earlier request
// (store.Consume.AllowReplace); Ethereum nonces never. Before reserving, the
// pipeline requires every replaced holder to be a request it completed, finds
// the replaced transaction in that request's stored signed response (by
// content hash, re-parsed by the adapter, and spending the outpoint), and
// requires a strictly higher fee than the sum of all replaced transactions
// and a strictly higher fee rate than each (refusal code fee-bump-refused).
// It does not know whether the replaced transaction was broadcast or mined:
// a bump of a mined transaction is signed but the network rejects it.
package signer
