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
package signer
