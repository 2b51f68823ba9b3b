package policy

import (
	"errors"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/hsm"
)

// memUsage is an in-memory Usage for tests.
type memUsage struct {
	mu      sync.Mutex
	charges []struct {
		counter string
		at      time.Time
		amount  *big.Int
	}
	fail error
}

var _ Usage = (*memUsage)(nil)

func (u *memUsage) Spent(counter string, since time.Time) (*big.Int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail != nil {
		return nil, u.fail
	}
	t := new(big.Int)
	for _, c := range u.charges {
		if c.counter == counter && !c.at.Before(since) {
			t.Add(t, c.amount)
		}
	}
	return t, nil
}

func (u *memUsage) LastCharge(counter string) (time.Time, bool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail != nil {
		return time.Time{}, false, u.fail
	}
	var last time.Time
	ok := false
	for _, c := range u.charges {
		if c.counter == counter && (!ok || c.at.After(last)) {
			last, ok = c.at, true
		}
	}
	return last, ok, nil
}

func (u *memUsage) add(counter string, at time.Time, amount int64) {
	u.charges = append(u.charges, struct {
		counter string
		at      time.Time
		amount  *big.Int
	}{counter, at, big.NewInt(amount)})
}

func (u *memUsage) apply(d Decision, at time.Time) {
	for _, c := range d.Charges {
		u.charges = append(u.charges, struct {
			counter string
			at      time.Time
			amount  *big.Int
		}{c.Counter, at, new(big.Int).Set(c.Amount)})
	}
}

var errStore = errors.New("disk on fire")

func mustParse(t testing.TB, file string) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustParseText(t testing.TB, text string) *Policy {
	t.Helper()
	p, err := Parse("inline.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	sat       = 1
	btc       = 100_000_000
	hotAddr   = "bcrt1qhotwallet000000000000000000000000"
	exchAddr  = "bcrt1qexchange0000000000000000000000000"
	payAddr   = "bcrt1qpayroll00000000000000000000000000"
	ownAddr   = "bcrt1qownchange00000000000000000000000"
	strayAddr = "bcrt1qstranger00000000000000000000000000"
	ethFrom   = "0x1111111111111111111111111111111111111111"
	ethTo     = "0x2222222222222222222222222222222222222222"
	usdc      = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
)

type out struct {
	addr   string
	amount int64
	change bool
}

// btcTx builds a decoded regtest transaction spending one input of each
// key label, with fee 1000 sat at 10 sat/vB unless changed.
func btcTx(keys []string, outs ...out) chain.Summary {
	s := chain.Summary{Network: chain.BTCRegtest, Kind: chain.KindTransfer, ID: "ab12", Fee: big.NewInt(1000), FeeRate: big.NewInt(10_000), VSize: 100}
	for i, k := range keys {
		ref := hsm.KeyRef{Label: k}
		if k[0] == '#' {
			ref = hsm.KeyRef{Label: "x", ID: []byte{0xc0, 0xff, 0xee}}
		}
		s.Inputs = append(s.Inputs, chain.Input{Outpoint: "00:" + string(rune('0'+i)), Amount: big.NewInt(10 * btc), Ours: true, Key: ref, ScriptType: "p2wpkh"})
	}
	for _, o := range outs {
		s.Outputs = append(s.Outputs, chain.Output{Address: o.addr, Asset: chain.AssetBTC, Amount: big.NewInt(o.amount), Change: o.change})
	}
	return s
}

func withFee(s chain.Summary, fee, rate int64) chain.Summary {
	s.Fee, s.FeeRate = big.NewInt(fee), big.NewInt(rate)
	return s
}

func usdcTx(amount int64) chain.Summary {
	return chain.Summary{Network: "eth-1337", Kind: chain.KindTokenTransfer, ID: "e1", From: ethFrom, To: usdc,
		Outputs: []chain.Output{{Address: ethTo, Asset: chain.ERC20(usdc), Amount: big.NewInt(amount)}},
		Fee:     big.NewInt(21000 * 50_000_000_000), FeeRate: big.NewInt(50_000_000_000), ChainID: 1337, Nonce: 1}
}
