package signer

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/store"
)

// consumesOf lists what the transactions use up. With allowFeeBump (the
// deciding policy rule has allow_fee_bump), only Bitcoin outpoint keys of
// Bitcoin transactions may replace an earlier holder; Ethereum nonces never
// may, whatever the decision says.
func consumesOf(sums []chain.Summary, allowFeeBump bool) []store.Consume {
	var out []store.Consume
	for _, s := range sums {
		for _, key := range s.Consumes {
			c := store.Consume{Key: key, ContentHash: s.ContentHash}
			c.AllowReplace = allowFeeBump && isOutpointKey(s.Network, key)
			out = append(out, c)
		}
	}
	return out
}

// isOutpointKey: key is an outpoint consume key ("<network>/outpoint/<txid:vout>",
// see chain.Summary.Consumes) of a transaction on a Bitcoin network.
func isOutpointKey(net chain.Network, key string) bool {
	return net.Family() == chain.FamilyBTC && strings.HasPrefix(key, string(net)+"/outpoint/")
}

// replaced is an earlier signed transaction of ours that a fee bump would
// replace, as re-parsed from the response the ledger stored for it.
type replaced struct {
	request string
	sum     chain.Summary
}

// checkFeeBump runs before Reserve when the policy allows a fee bump. For
// every Bitcoin outpoint the request re-spends with other content than its
// ledger holder, it requires: the holder is a request this signer completed
// (its signed response is in the ledger); that response holds a transaction
// with the held content hash that really spends the outpoint; and each
// replacing transaction pays a strictly higher fee than the sum of the fees
// of every earlier transaction it conflicts with, and a strictly higher fee
// rate than each of them. Anything that cannot be checked is a refusal. A
// ledger read failure is an error (no output).
func (p *Pipeline) checkFeeBump(r *request) (*refusal, error) {
	cache := map[[32]byte]*replaced{}
	for i, s := range r.sums {
		var olds []*replaced
		seen := map[[32]byte]bool{}
		for _, key := range s.Consumes {
			if !isOutpointKey(s.Network, key) {
				continue
			}
			holder, held, ok, err := p.cfg.Store.ConsumeHolder(key)
			if err != nil {
				return nil, fmt.Errorf("%w: fee bump check of request %q: %w", ErrNoOutput, r.req.ID, err)
			}
			if !ok || held == s.ContentHash {
				continue // a fresh outpoint, or the identical transaction again: nothing is replaced
			}
			old, rf := p.replacedTx(cache, held, holder, key)
			if rf != nil {
				return rf, nil
			}
			if !seen[held] {
				seen[held] = true
				olds = append(olds, old)
			}
		}
		if len(olds) == 0 {
			continue
		}
		if s.Fee == nil || s.FeeRate == nil {
			return refuse(StageReserve, CodeFeeBump, "request.transactions[%d] (%s) replaces our earlier transaction but its fee is unknown", i, s.ID), nil
		}
		sum := new(big.Int)
		var ids []string
		for _, o := range olds {
			sum.Add(sum, o.sum.Fee)
			ids = append(ids, fmt.Sprintf("%s of request %q", o.sum.ID, o.request))
			if s.FeeRate.Cmp(o.sum.FeeRate) <= 0 {
				return refuse(StageReserve, CodeFeeBump,
					"request.transactions[%d] (%s) pays %s milli-sat/vB, not more than the %s milli-sat/vB of the transaction %s it would replace",
					i, s.ID, s.FeeRate, o.sum.FeeRate, ids[len(ids)-1]), nil
			}
		}
		if s.Fee.Cmp(sum) <= 0 {
			return refuse(StageReserve, CodeFeeBump,
				"request.transactions[%d] (%s) pays a fee of %s sat, not more than the %s sat of the transactions it would replace (%s)",
				i, s.ID, s.Fee, sum, strings.Join(ids, ", ")), nil
		}
		p.cfg.Logger.Info("fee bump checked", "request", r.req.ID, "tx", s.ID, "fee", s.Fee.String(),
			"replaced_fee", sum.String(), "replaces", strings.Join(ids, ", "))
	}
	return nil, nil
}

// replacedTx finds, in the stored response of request holder, the signed
// transaction with content hash held, and checks it spends key.
func (p *Pipeline) replacedTx(cache map[[32]byte]*replaced, held [32]byte, holder, key string) (*replaced, *refusal) {
	if old, ok := cache[held]; ok {
		if !slices.Contains(old.sum.Consumes, key) {
			return nil, refuse(StageReserve, CodeFeeBump, "outpoint %s: the ledger says transaction %s of request %q spends it, but that transaction does not", key, old.sum.ID, holder)
		}
		return old, nil
	}
	st, err := p.cfg.Store.LookupRequest(holder)
	if err != nil && !errors.Is(err, store.ErrRequestNotFound) {
		return nil, refuse(StageReserve, CodeFeeBump, "outpoint %s is held by request %q, which cannot be read: %v", key, holder, err)
	}
	if err != nil || st.State != store.StateDone {
		return nil, refuse(StageReserve, CodeFeeBump,
			"outpoint %s is held by request %q in state %s: only a transaction this signer signed and released can be fee-bumped", key, holder, st.State)
	}
	resp, err := bundle.DecodeResponse(st.Response, p.cfg.Limits)
	if err != nil {
		return nil, refuse(StageReserve, CodeFeeBump, "stored response of request %q does not decode: %v", holder, err)
	}
	for j, t := range resp.Signed {
		ad, ok := p.cfg.Adapters[chain.Network(t.Network)]
		if !ok || ad.Network().Family() != chain.FamilyBTC {
			continue
		}
		tx, err := ad.Parse(t.Payload)
		if err != nil {
			return nil, refuse(StageReserve, CodeFeeBump, "stored response of request %q: transaction %d does not parse: %v", holder, j, err)
		}
		sum := tx.Summary()
		if sum.ContentHash != held {
			continue
		}
		if sum.Fee == nil || sum.FeeRate == nil {
			return nil, refuse(StageReserve, CodeFeeBump, "earlier transaction %s of request %q has no known fee", sum.ID, holder)
		}
		old := &replaced{request: holder, sum: sum}
		cache[held] = old
		if !slices.Contains(sum.Consumes, key) {
			return nil, refuse(StageReserve, CodeFeeBump, "outpoint %s: the ledger says transaction %s of request %q spends it, but that transaction does not", key, sum.ID, holder)
		}
		return old, nil
	}
	return nil, refuse(StageReserve, CodeFeeBump, "outpoint %s is held by request %q, whose stored response holds no transaction with the held content", key, holder)
}
