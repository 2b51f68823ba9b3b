package review

import (
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icebox-custody/icebox/bundle"
	"github.com/icebox-custody/icebox/chain"
)

// Line is one row of the review table: one value movement.
type Line struct {
	Tx      int    `json:"tx"`
	Network string `json:"network"`
	Kind    string `json:"kind"`
	From    string `json:"from"`
	To      string `json:"to"`
	Asset   string `json:"asset"`
	Amount  string `json:"amount"` // base units, decimal
	Display string `json:"display"`
	Change  bool   `json:"change"`
}

// Tx is one decoded transaction.
type Tx struct {
	Index   int      `json:"index"`
	Network string   `json:"network"`
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`
	Inputs  int      `json:"inputs,omitempty"`
	From    []string `json:"from"`
	Nonce   *uint64  `json:"nonce,omitempty"`
	Fee     string   `json:"fee"` // native base units
	FeeShow string   `json:"fee_display"`
	Lines   []Line   `json:"outputs"`
}

// Review is the officer's view of one request.
type Review struct {
	RequestID    string            `json:"request_id"`
	Kind         string            `json:"kind"`
	Requester    string            `json:"requester"`
	Reason       string            `json:"reason,omitempty"`
	Created      time.Time         `json:"created"`
	Expires      time.Time         `json:"expires"`
	Digest       string            `json:"digest"`
	DigestWords  string            `json:"digest_words"`
	Transactions []Tx              `json:"transactions"`
	Totals       map[string]string `json:"totals"` // leaving us, change excluded, per asset
	Fees         map[string]string `json:"fees"`   // per native asset
	Approvals    []string          `json:"approvals"`
}

// Build decodes every transaction of req with adapters. A transaction that
// does not decode (or whose network has no adapter) is an error naming it:
// an officer must never approve what could not be shown.
func Build(req *bundle.Request, adapters map[chain.Network]chain.Adapter) (*Review, error) {
	d := bundle.RequestDigest(req)
	rv := &Review{
		RequestID: req.ID, Kind: string(req.Kind), Requester: req.Requester, Reason: req.Reason,
		Created: time.Unix(req.Created, 0).UTC(), Expires: time.Unix(req.Expires, 0).UTC(),
		Digest: d.String(), DigestWords: bundle.DigestWords(d),
		Totals: map[string]string{}, Fees: map[string]string{},
	}
	totals := map[chain.Asset]*big.Int{}
	fees := map[chain.Asset]*big.Int{}
	add := func(m map[chain.Asset]*big.Int, a chain.Asset, v *big.Int) {
		if m[a] == nil {
			m[a] = new(big.Int)
		}
		m[a].Add(m[a], v)
	}
	for i, t := range req.Transactions {
		ad, ok := adapters[chain.Network(t.Network)]
		if !ok {
			return nil, fmt.Errorf("request.transactions[%d]: no adapter for network %q", i, t.Network)
		}
		tx, err := ad.Parse(t.Payload)
		if err != nil {
			return nil, fmt.Errorf("request.transactions[%d] (%s): %w", i, t.Network, err)
		}
		s := tx.Summary()
		native := chain.AssetBTC
		if s.Network.Family() == chain.FamilyETH {
			native = chain.AssetETH
		}
		v := Tx{Index: i, Network: string(s.Network), ID: s.ID, Kind: string(s.Kind), Inputs: len(s.Inputs),
			Fee: s.Fee.String(), FeeShow: Format(native, s.Fee)}
		if s.Network.Family() == chain.FamilyETH {
			n := s.Nonce
			v.Nonce = &n
			v.From = []string{s.From}
		} else {
			for _, in := range s.Inputs {
				if in.Ours {
					v.From = append(v.From, in.Key.Label)
				}
			}
			v.From = dedupe(v.From)
		}
		from := strings.Join(v.From, ",")
		for _, o := range s.Outputs {
			v.Lines = append(v.Lines, Line{Tx: i, Network: string(s.Network), Kind: string(s.Kind), From: from, To: o.Address,
				Asset: string(o.Asset), Amount: o.Amount.String(), Display: Format(o.Asset, o.Amount), Change: o.Change})
			if !o.Change {
				add(totals, o.Asset, o.Amount)
			}
		}
		if s.Approval != nil {
			v.Lines = append(v.Lines, Line{Tx: i, Network: string(s.Network), Kind: "allowance", From: from, To: s.Approval.Address,
				Asset: string(s.Approval.Asset), Amount: s.Approval.Amount.String(), Display: Format(s.Approval.Asset, s.Approval.Amount)})
		}
		if s.Kind == chain.KindContractCall {
			v.Lines = append(v.Lines, Line{Tx: i, Network: string(s.Network), Kind: "contract-call", From: from, To: s.To,
				Asset: "calldata", Amount: fmt.Sprintf("%d bytes", len(s.Data)), Display: fmt.Sprintf("0x%x", head(s.Data, 4))})
		}
		add(fees, native, s.Fee)
		rv.Transactions = append(rv.Transactions, v)
	}
	for a, v := range totals {
		rv.Totals[string(a)] = Format(a, v)
	}
	for a, v := range fees {
		rv.Fees[string(a)] = Format(a, v)
	}
	for _, ap := range req.Approvals {
		rv.Approvals = append(rv.Approvals, fmt.Sprintf("%s (until %s)", ap.Officer, time.Unix(ap.Expires, 0).UTC().Format(time.RFC3339)))
	}
	return rv, nil
}

func head(b []byte, n int) []byte {
	if len(b) < n {
		return b
	}
	return b[:n]
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Format renders a base-unit amount in whole units: 8 decimals for BTC, 18
// for ETH; token amounts stay in base units (their decimals are not known
// from the transaction).
func Format(a chain.Asset, v *big.Int) string {
	if v == nil {
		return "?"
	}
	switch a {
	case chain.AssetBTC:
		return decimal(v, 8) + " BTC"
	case chain.AssetETH:
		return decimal(v, 18) + " ETH"
	default:
		return v.String() + " units of " + strings.TrimPrefix(string(a), "erc20:")
	}
}

func decimal(v *big.Int, places int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if len(s) <= places {
		s = strings.Repeat("0", places-len(s)+1) + s
	}
	whole, frac := s[:len(s)-places], strings.TrimRight(s[len(s)-places:], "0")
	out := whole
	if frac != "" {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// Render writes the review table for a person.
func (r *Review) Render(w io.Writer) error {
	fmt.Fprintf(w, "Request   %s  (%s, by %s)\n", r.RequestID, r.Kind, r.Requester)
	fmt.Fprintf(w, "Valid     %s → %s\n", r.Created.Format(time.RFC3339), r.Expires.Format(time.RFC3339))
	if r.Reason != "" {
		fmt.Fprintf(w, "Reason    %q  (the requester's words; not checked)\n", r.Reason)
	}
	fmt.Fprintf(w, "Digest    %s\n", r.Digest)
	fmt.Fprintf(w, "Read out  %s\n\n", r.DigestWords)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tNETWORK\tKIND\tFROM\tTO\tAMOUNT\tFEE\tNOTE")
	for _, t := range r.Transactions {
		for j, l := range t.Lines {
			fee := ""
			if j == 0 {
				fee = t.FeeShow
			}
			note := ""
			if l.Change {
				note = "change (our key)"
			}
			if t.Nonce != nil && j == 0 {
				note = strings.TrimSpace(note + fmt.Sprintf(" nonce %d", *t.Nonce))
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Index, l.Network, l.Kind, short(l.From, 24), l.To, l.Display, fee, note)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Totals leaving custody (change excluded):")
	for _, k := range sortedKeys(r.Totals) {
		fmt.Fprintf(w, "  %s\n", r.Totals[k])
	}
	fmt.Fprintln(w, "Fees (at most):")
	for _, k := range sortedKeys(r.Fees) {
		fmt.Fprintf(w, "  %s\n", r.Fees[k])
	}
	if len(r.Approvals) > 0 {
		fmt.Fprintf(w, "Approvals so far: %s\n", strings.Join(r.Approvals, ", "))
	}
	return nil
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// JSON returns the review as indented JSON.
func (r *Review) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }
