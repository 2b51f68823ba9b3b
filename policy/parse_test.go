package policy

import (
	"bufio"
	"bytes"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icebox-custody/icebox/chain"
	"github.com/icebox-custody/icebox/quorum"
	"github.com/icebox-custody/icebox/quorum/yamlstrict"
)

func TestParseOK(t *testing.T) {
	files, _ := filepath.Glob("testdata/ok_*.yaml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		p, err := Parse(filepath.Base(f), data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if p.Hash() != Hash(data) || p.Hash() != quorum.ContentHash(quorum.ChangePolicy, data) {
			t.Errorf("%s: hash is not the domain hash of the bytes", f)
		}
	}
	// The example config must parse too.
	data, err := os.ReadFile("../configs/policy.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse("policy.example.yaml", data); err != nil {
		t.Fatalf("example policy: %v", err)
	}
}

func TestParseFullValues(t *testing.T) {
	p := mustParse(t, "ok_full.yaml")
	if len(p.Rules) != 7 || p.Rules[1].Name != "refill-hot" {
		t.Fatalf("rules: %d", len(p.Rules))
	}
	r := p.Rules[1]
	if r.Limits.PerTx.Cmp(big.NewInt(50_000_000)) != 0 || r.Limits.PerBatch.Cmp(big.NewInt(100_000_000)) != 0 ||
		r.Limits.MaxFee.Cmp(big.NewInt(100_000)) != 0 || r.Limits.MaxFeeRate.Cmp(big.NewInt(50_000)) != 0 {
		t.Fatalf("refill-hot limits: %+v", r.Limits)
	}
	u := p.Rules[4]
	if u.Match.Asset != chain.ERC20(usdc) || u.Limits.PerTx.String() != "1000500000" || u.Limits.MaxFee.String() != "10000000000000000" || u.Limits.MaxFeeRate.String() != "100000000000" {
		t.Fatalf("usdc: %+v %+v", u.Match, u.Limits)
	}
	if p.Rules[2].Limits.MaxFeePercent.Cmp(big.NewRat(1, 1)) != 0 {
		t.Fatal("fee percent")
	}
	if p.Rules[3].Match.AmountMin.String() != "100000001" {
		t.Fatal("amount min")
	}
}

func TestParseExpFail(t *testing.T) {
	files, _ := filepath.Glob("testdata/expfail_*.yaml")
	if len(files) < 25 {
		t.Fatalf("only %d expfail fixtures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Scan()
			want, ok := strings.CutPrefix(sc.Text(), "# want: ")
			if !ok {
				t.Fatal("fixture lacks '# want:'")
			}
			p, err := Parse(filepath.Base(f), data)
			if err == nil || p != nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, ErrBadPolicy) || !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
			var ye *yamlstrict.Error
			if !errors.As(err, &ye) || ye.Line < 2 {
				t.Errorf("error lacks a line: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "invalid policy: "+filepath.Base(f)+":") {
				t.Errorf("error does not start with the file name: %v", err)
			}
		})
	}
}

func TestAmounts(t *testing.T) {
	p := &Policy{Tokens: map[string]Token{"USDC": {Asset: chain.ERC20(usdc), Decimals: 6}}}
	ok := []struct {
		in    string
		asset chain.Asset
		want  string
	}{
		{"1 BTC", chain.AssetBTC, "100000000"},
		{"0.00000001 BTC", chain.AssetBTC, "1"},
		{"21000000 BTC", chain.AssetBTC, "2100000000000000"},
		{"123 sat", chain.AssetBTC, "123"},
		{"123", chain.AssetBTC, "123"},
		{"1.5 ETH", chain.AssetETH, "1500000000000000000"},
		{"2.5 gwei", chain.AssetETH, "2500000000"},
		{"1000.5 USDC", chain.ERC20(usdc), "1000500000"},
		{"0 BTC", chain.AssetBTC, "0"},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", chain.AssetETH, "115792089237316195423570985008687907853269984665640564039457584007913129639935"},
	}
	for _, c := range ok {
		v, err := parseAmountText(c.in, p.unitsFor(c.asset), string(c.asset))
		if err != nil || v.String() != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, v, err, c.want)
		}
		if back, _ := parseAmountText(strings.Fields(p.FormatAmount(c.asset, v))[0]+" "+strings.Fields(p.FormatAmount(c.asset, v))[1], p.unitsFor(c.asset), ""); back == nil || back.Cmp(v) != 0 {
			t.Errorf("%q: FormatAmount %q does not round-trip", c.in, p.FormatAmount(c.asset, v))
		}
	}
	for _, in := range []string{"1.5", "1e8", "-1 BTC", "1,000 sat", "0x10", "1.000000001 BTC", "1 btc", "1  BTC", ".5 BTC", "5. BTC", "1 USDC", "", "1 BTC extra"} {
		if v, err := parseAmountText(in, p.unitsFor(chain.AssetBTC), "BTC"); err == nil {
			t.Errorf("%q parsed as %s", in, v)
		}
	}
}

func TestExplainReadsClearly(t *testing.T) {
	p := mustParse(t, "ok_full.yaml")
	s := p.Explain()
	for _, w := range []string{
		"first rule that matches", "A request that no rule matches is denied",
		"DENY: contract calls and token approvals are not allowed",
		"at most 0.5 BTC per transaction", "at most 2 BTC under this rule in any 24 hours",
		"at most 1.5 BTC to any one destination in any 7 days", "at least 10m between two signings", "fee rate at most 50 sat/vB",
		"fee at most 1% of the amount sent", "only on Mon, Tue, Wed, Thu, Fri between 09:00 and 17:00 (America/New_York time)",
		"never on 2026-12-25", "2 of treasury (alice, bob, carol) AND (1 of risk (dave, erin) OR 1 of officers (frank))",
		"named approver(s) who must approve: dave", "at most 1000.5 USDC per transaction", "fee at most 0.01 ETH",
		"fee rate at most 100 gwei per gas", p.Hash().String(),
	} {
		if !strings.Contains(s, w) {
			t.Errorf("explanation lacks %q", w)
		}
	}
	if t.Failed() {
		t.Log(s)
	}
}
